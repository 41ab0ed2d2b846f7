"""A real OpenAI-compatible HTTP server on loopback, for tests, benchmarks and offline demos.

It answers ``POST /v1/chat/completions`` with the replies of a :class:`twofaced.models._mock.MockModel`
policy (so a ``faker`` server has a known gap), after a fixed delay, and can inject failures: the first
``fail_first`` requests get ``fail_status`` (429 with ``Retry-After``, 500, 401 ...). It also serves
``POST /v1/messages`` in Anthropic's format. It counts requests so tests can assert exactly-once behaviour, and
with ``record=True`` keeps every request's JSON body in ``bodies`` so tests can assert what was sent. A trailing
assistant message is continued (assistant prefill), as the mock backends do.

    with StubServer(policy="faker", delay=0.1) as server:
        print(server.base_url)   # http://127.0.0.1:PORT/v1

It serves with aiohttp.web. Benchmarks, where the stub shares the cores with the client it measures, use
``LeanStubServer`` in ``bench/_lean_http.py``: the same routes and replies over a minimal ``asyncio.Protocol``
HTTP layer that costs a fraction of aiohttp.web's CPU per request. The private methods it reuses
(``_gate``, ``_answer``, ``_chat_messages``, ``_anthropic_messages``, ``_chat_body``, ``_messages_body``, ``_serve``)
are therefore a seam: keep their signatures.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from collections import Counter
from typing import Any, ClassVar

from aiohttp import web

from .._util._app_server import BackgroundServer, start_site
from ..errors import TwofacedError
from ..models import GenerationParams, Message
from ..models._mock import MockModel, continuation, split_prefill

Reply = tuple[int, dict[str, str] | None, bytes]  # (status, extra headers, JSON body bytes)
CHAT_PATH = "/v1/chat/completions"  # OpenAI's format
MESSAGES_PATH = "/v1/messages"  # Anthropic's format

_JSON_STRINGS: dict[str, str] = {}  # reply text -> its JSON string; a policy has a handful of replies


def _json_str(value: Any) -> str:
    if not isinstance(value, str):
        return json.dumps(value)
    out = _JSON_STRINGS.get(value)
    if out is None:
        out = json.dumps(value)
        if len(_JSON_STRINGS) < 1024:
            _JSON_STRINGS[value] = out
    return out


_WORDS: dict[str, int] = {}  # message text -> word count; prompts repeat across samples and conditions


def _words(text: str) -> int:
    n = _WORDS.get(text)
    if n is None:
        n = len(text.split())
        if len(_WORDS) < 65536:
            _WORDS[text] = n
    return n


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    return status, headers, json.dumps({"error": {"message": message}}).encode()


class StubServer(BackgroundServer):
    """Runs the server on its own thread and event loop (the shared runner's); use as a context manager."""

    thread_name: ClassVar[str] = "twofaced-stub-server"
    label: ClassVar[str] = "the stub server"
    listen_prefix: ClassVar[str] = "stub server "
    start_seconds: ClassVar[float] = 10.0
    stop_seconds: ClassVar[float] = 10.0

    def __init__(
        self,
        policy: str = "faker",
        *,
        delay: float = 0.0,
        fail_first: int = 0,
        fail_status: int = 500,
        retry_after: float | None = None,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        record: bool = False,
    ) -> None:
        self.policy = MockModel(policy)
        self.record = record
        self.bodies: list[dict[str, Any]] = []  # every request's JSON body, in arrival order, when ``record``
        self.delay = delay
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.retry_after = retry_after
        self.api_key = api_key
        self.requests = 0
        self.by_prompt: Counter[str] = Counter()
        app = web.Application()
        app.router.add_post(CHAT_PATH, self._handle)
        app.router.add_post(MESSAGES_PATH, self._handle)
        super().__init__(app, host, port)

    def _gate(self, headers: Any) -> Reply | None:
        """Count the request; refuse a wrong key, then inject the first ``fail_first`` failures."""
        self.requests += 1
        if self.api_key is not None:
            auth = headers.get("Authorization", "") or f"Bearer {headers.get('x-api-key', '')}"
            if auth != f"Bearer {self.api_key}":
                return _error(401, "invalid api key")
        if self.requests <= self.fail_first:
            retry = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else None
            return _error(self.fail_status, "injected failure", retry)
        return None

    def _answer(self, messages: list[Message], seed: Any) -> str:
        self.by_prompt["\x00".join(m.content for m in messages)] += 1
        messages, prefill = split_prefill(messages)  # a trailing assistant message is continued, as by the mock
        return continuation(self.policy._decide(messages, GenerationParams(seed=seed)), prefill)

    async def _reply(self, messages: list[Message], seed: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        return self._answer(messages, seed)

    @staticmethod
    def _chat_messages(body: dict[str, Any]) -> list[Message]:
        return [Message(m["role"], m["content"]) for m in body["messages"]]

    @staticmethod
    def _anthropic_messages(body: dict[str, Any]) -> list[Message]:
        messages = [Message("system", body["system"])] if body.get("system") else []
        messages += [Message(m["role"], m["content"] if isinstance(m["content"], str) else
                             "".join(b.get("text", "") for b in m["content"])) for m in body["messages"]]
        return messages

    @staticmethod
    def _chat_body(model: Any, messages: list[Message], text: str) -> bytes:
        """The chat completion, written out in one fixed format (same JSON as ``json.dumps`` of the dict)."""
        prompt = sum(_words(m.content) for m in messages)
        completion = _words(text)
        return (
            f'{{"id": "chatcmpl-stub", "object": "chat.completion", "model": {_json_str(model)}, "choices": '
            f'[{{"index": 0, "message": {{"role": "assistant", "content": {_json_str(text)}}}, "finish_reason": '
            f'"stop"}}], "usage": {{"prompt_tokens": {prompt}, "completion_tokens": {completion}, '
            f'"total_tokens": {prompt + completion}}}}}'
        ).encode()

    @staticmethod
    def _messages_body(model: Any, text: str) -> bytes:
        return json.dumps({
            "id": "msg_stub", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": len(text.split())},
        }).encode()

    # -- aiohttp.web ----------------------------------------------------------------------------------
    @staticmethod
    def _web(reply: Reply) -> web.Response:
        status, headers, body = reply
        return web.Response(body=body, status=status, headers=headers, content_type="application/json")

    async def _handle(self, request: web.Request) -> web.Response:
        """Both routes: count and gate, read (and record) the body, answer after the delay in the route's format."""
        failed = self._gate(request.headers)
        if failed is not None:
            return self._web(failed)
        body = await request.json()
        if self.record:
            self.bodies.append(body)
        model = body.get("model", "stub")
        if request.path == MESSAGES_PATH:
            messages = self._anthropic_messages(body)
            return self._web((200, None, self._messages_body(model, await self._reply(messages, None))))
        messages = self._chat_messages(body)
        text = await self._reply(messages, body.get("seed"))
        return self._web((200, None, self._chat_body(model, messages, text)))

    def _serve(self) -> None:
        """The thread's body, on a bare loop that :meth:`_halt` stops: the seam ``bench/_lean_http.py`` overrides
        to serve its own protocol on a loop of its choosing (uvloop)."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            runner, self.port = loop.run_until_complete(start_site(self._app, self.host, self.port,
                                                                   self.listen_prefix))
            self._ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
        finally:
            loop.close()

    def _halt(self) -> None:
        assert self._loop is not None
        self._loop.stop()


def main() -> None:
    """``python -m twofaced.testing --policy faker --delay 0.1 --port 8765``: serve until Ctrl-C.

    Prints one JSON line once listening: ``{"base_url": ..., "server": "aiohttp", "loop": "asyncio"}``. A port
    that cannot be bound (or an unknown policy) prints one ``error:`` line on stderr and exits 2.
    """
    import argparse

    parser = argparse.ArgumentParser(description="Loopback OpenAI-compatible stub server")
    parser.add_argument("--policy", default="faker")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    try:
        server = StubServer(args.policy, delay=args.delay, port=args.port).start()
    except TwofacedError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    print(json.dumps({"base_url": server.base_url, "server": "aiohttp", "loop": "asyncio"}), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()
