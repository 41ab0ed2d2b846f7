"""Anthropic's Messages API through the official SDK (extra ``anthropic``).

The SDK's own retries are switched off so every backend shares one policy (``_retry.py``); its error types are
mapped at this boundary: rate limits, overload, 5xx, timeouts retried; auth fatal; other 4xx recorded.
System turns go into the ``system`` field, as the API requires.

Only the sampling parameters that are set are sent, except ``max_tokens``, which the API requires:
``ANTHROPIC_DEFAULT_MAX_TOKENS`` (4000) when unset. Assistant prefill is the API's own: a trailing assistant
message is continued and the reply holds only the continuation (the API refuses a prefill that ends in
whitespace, and some newer models or extended thinking refuse prefill: those requests fail with the API's
message, recorded against the item).
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import AuthError, BadResponseError, ConnectError, ModelSpecError, RetryableError, missing_extra
from ._retry import RetryPolicy, with_retries
from ._types import Completion, GenerationParams, Message, Usage

ANTHROPIC_DEFAULT_MAX_TOKENS = 4000  # the API requires max_tokens; 4000 is what the reference experiment sends
_FINISH = {"end_turn": "stop", "max_tokens": "length", "stop_sequence": "stop"}


class AnthropicModel:
    supports_prefill = True  # the Messages API continues a trailing assistant message

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        max_concurrency: int = 16,
        timeout: float = 600.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not model:
            raise ModelSpecError("model spec 'anthropic/' names no model; use anthropic/MODEL")
        try:
            import anthropic
        except ImportError as exc:
            raise missing_extra("anthropic", "anthropic") from exc
        api_key = api_key or os.environ.get("ANTHROPIC_API_KEY")
        if not api_key:
            raise AuthError("ANTHROPIC_API_KEY is not set; export it to use anthropic/ models")
        self._sdk = anthropic
        self.spec = f"anthropic/{model}"
        self.model = model
        self.max_concurrency = max_concurrency
        self._retry = retry or RetryPolicy()
        kwargs: dict[str, Any] = {"api_key": api_key, "max_retries": 0, "timeout": timeout}
        base_url = base_url or os.environ.get("ANTHROPIC_BASE_URL")
        if base_url:
            kwargs["base_url"] = base_url
        self._client = anthropic.AsyncAnthropic(**kwargs)

    async def _once(self, kwargs: dict[str, Any]) -> Completion:
        a = self._sdk
        try:
            msg = await self._client.messages.create(**kwargs)
        except a.AuthenticationError as exc:
            raise AuthError(f"Anthropic rejected the API key ({exc.status_code}); check ANTHROPIC_API_KEY") from exc
        except a.PermissionDeniedError as exc:
            raise AuthError(f"Anthropic refused access ({exc.status_code}): {exc.message}") from exc
        except a.APITimeoutError as exc:
            raise RetryableError(f"timeout from Anthropic: {exc}") from exc
        except a.APIConnectionError as exc:
            cause = exc.__cause__
            if cause is not None and "connect" in type(cause).__name__.lower():
                raise ConnectError(f"cannot connect to Anthropic API ({cause}); check ANTHROPIC_BASE_URL") from exc
            raise RetryableError(f"connection error from Anthropic: {exc}") from exc
        except a.APIStatusError as exc:
            retry_after = exc.response.headers.get("retry-after") if exc.response is not None else None
            if exc.status_code in (408, 409, 429) or exc.status_code >= 500:
                raise RetryableError(
                    f"HTTP {exc.status_code} from Anthropic: {exc.message}",
                    float(retry_after) if retry_after and retry_after.replace(".", "", 1).isdigit() else None,
                ) from exc
            raise BadResponseError(f"HTTP {exc.status_code} from Anthropic: {exc.message}") from exc
        text = "".join(getattr(block, "text", "") for block in msg.content)
        return Completion(
            text=text,
            finish_reason=_FINISH.get(msg.stop_reason or "", msg.stop_reason or "stop"),
            usage=Usage(msg.usage.input_tokens, msg.usage.output_tokens),
        )

    async def generate(self, messages: list[Message], params: GenerationParams) -> Completion:
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        turns = [{"role": m.role, "content": m.content} for m in messages if m.role != "system"]
        # Sampling parameters travel in extra_body: newer SDKs (2.x) dropped them from the typed signature
        # of messages.create and raise TypeError on them, while every SDK forwards extra_body as is.
        # Only what is set is sent; max_tokens is required by the API, so ANTHROPIC_DEFAULT_MAX_TOKENS stands in.
        sampling: dict[str, Any] = {}
        if params.temperature is not None:
            sampling["temperature"] = min(params.temperature, 1.0)
        if params.top_p is not None:
            sampling["top_p"] = params.top_p
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": turns,
            "max_tokens": ANTHROPIC_DEFAULT_MAX_TOKENS if params.max_tokens is None else params.max_tokens,
            "extra_body": sampling,
        }
        if system:
            kwargs["system"] = system
        if params.stop:
            kwargs["stop_sequences"] = list(params.stop)
        return await with_retries(lambda: self._once(kwargs), self._retry)

    async def aclose(self) -> None:
        await self._client.close()
