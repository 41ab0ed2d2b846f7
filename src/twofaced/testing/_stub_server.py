"""A real OpenAI-compatible HTTP server on loopback, for tests, benchmarks and offline demos.

It answers ``POST /v1/chat/completions`` with the replies of a :class:`twofaced.models._mock.MockModel`
policy (so a ``faker`` server has a known gap), after a fixed delay, and can inject failures: the first
``fail_first`` requests get ``fail_status`` (429 with ``Retry-After``, 500, 401 ...). It also serves
``POST /v1/messages`` in Anthropic's format. It counts requests so tests can assert exactly-once behaviour.

    with StubServer(policy="faker", delay=0.1) as server:
        print(server.base_url)   # http://127.0.0.1:PORT/v1
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from typing import Any

from aiohttp import web

from ..models import GenerationParams, Message
from ..models._mock import MockModel


class StubServer:
    """Runs an aiohttp server on its own thread and event loop; use as a context manager."""

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
    ) -> None:
        self.policy = MockModel(policy)
        self.delay = delay
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.retry_after = retry_after
        self.api_key = api_key
        self.host = host
        self.port = port
        self.requests = 0
        self.by_prompt: Counter[str] = Counter()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def _check(self, request: web.Request) -> web.Response | None:
        self.requests += 1
        if self.api_key is not None:
            auth = request.headers.get("Authorization", "") or f"Bearer {request.headers.get('x-api-key', '')}"
            if auth != f"Bearer {self.api_key}":
                return web.json_response({"error": {"message": "invalid api key"}}, status=401)
        if self.requests <= self.fail_first:
            headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else None
            return web.json_response({"error": {"message": "injected failure"}}, status=self.fail_status,
                                     headers=headers)
        return None

    async def _reply(self, messages: list[Message], seed: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        self.by_prompt["\x00".join(m.content for m in messages)] += 1
        completion = await self.policy.generate(messages, GenerationParams(seed=seed))
        return completion.text

    async def _chat(self, request: web.Request) -> web.Response:
        failed = self._check(request)
        if failed is not None:
            return failed
        body = await request.json()
        messages = [Message(m["role"], m["content"]) for m in body["messages"]]
        text = await self._reply(messages, body.get("seed"))
        return web.json_response({
            "id": "chatcmpl-stub", "object": "chat.completion", "model": body.get("model", "stub"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": sum(len(m.content.split()) for m in messages),
                      "completion_tokens": len(text.split())},
        })

    async def _messages(self, request: web.Request) -> web.Response:
        failed = self._check(request)
        if failed is not None:
            return failed
        body = await request.json()
        messages = [Message("system", body["system"])] if body.get("system") else []
        messages += [Message(m["role"], m["content"] if isinstance(m["content"], str) else
                             "".join(b.get("text", "") for b in m["content"])) for m in body["messages"]]
        text = await self._reply(messages, None)
        return web.json_response({
            "id": "msg_stub", "type": "message", "role": "assistant", "model": body.get("model", "stub"),
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": len(text.split())},
        })

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/messages", self._messages)
        self._runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, self.host, self.port, backlog=1024)
        loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._runner.cleanup())
        loop.close()

    def start(self) -> StubServer:
        self._thread = threading.Thread(target=self._serve, name="twofaced-stub-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("stub server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    """``python -m twofaced.testing --policy faker --delay 0.1 --port 8765``: serve until Ctrl-C."""
    import argparse

    parser = argparse.ArgumentParser(description="Loopback OpenAI-compatible stub server")
    parser.add_argument("--policy", default="faker")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    server = StubServer(args.policy, delay=args.delay, port=args.port).start()
    print(json.dumps({"base_url": server.base_url}), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()
