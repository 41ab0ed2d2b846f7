"""Any OpenAI-compatible chat-completions server: vLLM, SGLang, Ollama, llama.cpp server, LiteLLM, OpenAI.

Why raw aiohttp and not the openai SDK: on 2 cores the SDK (openai 3.54) costs about 4.3 ms of CPU per request
(35% of ideal throughput at concurrency 64 against a 100 ms stub), a bare aiohttp loop about 0.5 ms (86% of
ideal), twofaced's whole engine on this backend 0.8 ms (83%) (bench/engine_overhead.py, docs/benchmarks.md); an
earlier measurement put a bare httpx client at 7.5 ms. We keep the SDK's semantics instead of its code: the
same endpoint and payload, the same retry classes (429, 408, 409, 5xx, timeouts and dropped connections retried
with backoff, ``Retry-After`` honoured), auth failures fatal, other 4xx recorded against the item.

Only the sampling parameters that are set travel (:meth:`GenerationParams.to_dict`); the server's own defaults
apply to the rest. Assistant prefill depends on the server, so it is an option of the spec:
``prefill=true`` sends the prefill as a trailing assistant message and expects the reply to continue it (llama.cpp
server, SGLang and most hosted open-weight APIs do); ``prefill=vllm`` also sends vLLM's
``continue_final_message: true, add_generation_prompt: false``, without which vLLM starts a new turn; the default
``false`` declares no support, so a scenario that prefills is refused before anything is sent (OpenAI's own API
starts a new turn after a trailing assistant message rather than continuing it).
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import aiohttp

from ..errors import AuthError, BadResponseError, ConnectError, ModelSpecError, RetryableError
from ._retry import RetryPolicy, with_retries
from ._types import Completion, GenerationParams, Message, Usage, messages_to_dicts

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
PREFILL_MODES = ("false", "true", "vllm")
_RETRY_STATUS = {408, 409, 429}


class OpenAICompatModel:
    """Chat completions over HTTP. One aiohttp session per model, opened lazily inside the running loop."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        max_concurrency: int = 64,
        timeout: float = 600.0,
        retry: RetryPolicy | None = None,
        extra_body: dict[str, Any] | None = None,
        prefill: str = "false",
    ) -> None:
        if not model:
            raise ModelSpecError("model spec 'openai/' names no model; use openai/MODEL, e.g. openai/gpt-4o-mini")
        base_url = base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_DEFAULT_BASE_URL
        api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        if not api_key and base_url.rstrip("/") == OPENAI_DEFAULT_BASE_URL:
            raise AuthError(
                "OPENAI_API_KEY is not set; export it, or pass --base-url URL for a local server "
                "(vLLM, Ollama, llama.cpp) that needs no key"
            )
        if prefill not in PREFILL_MODES:
            raise ModelSpecError(f"bad option for model spec 'openai/{model}': prefill must be one of "
                                 f"{', '.join(PREFILL_MODES)}, got {prefill!r}")
        self.prefill = prefill
        self.supports_prefill = prefill != "false"
        self.spec = f"openai/{model}"
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.max_concurrency = max_concurrency
        self._url = f"{self.base_url}/chat/completions"
        self._headers = {"Content-Type": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._retry = retry or RetryPolicy()
        self._extra_body = extra_body or {}
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self.max_concurrency, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, headers=self._headers
            )
        return self._session

    def _payload(self, messages: list[Message], params: GenerationParams) -> bytes:
        body: dict[str, Any] = {"model": self.model, "messages": messages_to_dicts(messages)}
        body.update(params.to_dict())  # only what was set: the server's defaults apply to the rest
        if messages and messages[-1].role == "assistant" and self.prefill == "vllm":
            body["continue_final_message"] = True
            body["add_generation_prompt"] = False
        body.update(self._extra_body)
        return json.dumps(body).encode()

    async def _post_once(self, payload: bytes) -> Completion:
        session = self._get_session()
        try:
            async with session.post(self._url, data=payload) as resp:
                raw = await resp.read()
                status = resp.status
                retry_after = resp.headers.get("Retry-After")
        except aiohttp.ClientConnectorError as exc:
            raise ConnectError(
                f"cannot connect to {self.base_url} ({exc.os_error or exc}); is the server running? "
                "check --base-url or OPENAI_BASE_URL"
            ) from exc
        except (TimeoutError, aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError,
                aiohttp.ClientOSError) as exc:
            raise RetryableError(f"{type(exc).__name__} from {self.base_url}: {exc}") from exc
        if status == 200:
            return _parse_completion(raw, self._url)
        detail = _error_detail(raw)
        if status in (401, 403):
            raise AuthError(
                f"{self.base_url} rejected the API key (HTTP {status}: {detail}); check OPENAI_API_KEY"
            )
        if status in _RETRY_STATUS or status >= 500:
            raise RetryableError(f"HTTP {status} from {self._url}: {detail}", _parse_retry_after(retry_after))
        raise BadResponseError(f"HTTP {status} from {self._url}: {detail}")

    async def generate(self, messages: list[Message], params: GenerationParams) -> Completion:
        payload = self._payload(messages, params)
        return await with_retries(lambda: self._post_once(payload), self._retry)

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
            await asyncio.sleep(0)


def _parse_completion(raw: bytes, url: str) -> Completion:
    try:
        data = json.loads(raw)
        choice = data["choices"][0]
        text = choice["message"].get("content") or ""
        finish = choice.get("finish_reason") or "stop"
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise BadResponseError(f"{url} answered 200 but not with a chat completion: {raw[:200]!r}") from exc
    usage = data.get("usage") or {}
    return Completion(
        text=text,
        finish_reason=finish,
        usage=Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)),
    )


def _error_detail(raw: bytes) -> str:
    try:
        data = json.loads(raw)
        err = data.get("error", data)
        msg = err.get("message") if isinstance(err, dict) else err
        return str(msg)[:300]
    except (ValueError, AttributeError):
        return raw[:300].decode("utf-8", "replace")


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
