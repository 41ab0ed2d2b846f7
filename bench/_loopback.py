"""Helpers of the monitor latency benchmarks: a fixed-reply loopback stub (plain JSON and SSE) and an open-loop
HTTP/1.1 load generator, both on raw ``asyncio`` protocols so that they cost little CPU on a 2-core machine.

Why not ``twofaced.testing.StubServer`` or aiohttp: the load generator and the stub share the cores with the
proxy being measured, and every 0.1 ms of CPU they spend per request is a tenth of the proxy's budget at
1,000 requests per second. The stub reuses ``_lean_http.LeanHTTPProtocol`` (the lean layer of
``engine_overhead.py``) with a handler that does no JSON work: the request body is searched for
``"stream": true`` and a precomputed reply is written. A streamed reply is sent as chunked SSE: the first event
(role and the first content delta) at once, the rest ``gap`` seconds later, so time to first token and time to
the end differ. The load generator keeps a pool of keep-alive connections, sends each request at its
scheduled time whether or not earlier ones have finished (open loop), and times every request from its
scheduled time, so a proxy that falls behind is charged for the wait (no coordinated omission).

    python bench/_loopback.py --port 0      # serve the stub until killed; prints {"port": N} once listening
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _lean_http import LeanHTTPProtocol, Reply

REPLY_TEXT = "I can't help with that request."
_DELTAS = ("I can't", " help with", " that request.")


def _chat_json() -> bytes:
    return json.dumps({
        "id": "chatcmpl-stub", "object": "chat.completion", "created": 1700000000, "model": "stub",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": REPLY_TEXT}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19}}).encode()


def _event(delta: dict[str, Any], finish: str | None = None) -> bytes:
    chunk = {"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": 1700000000, "model": "stub",
             "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


CHAT = _chat_json()
MODELS = json.dumps({"object": "list", "data": [{"id": "stub", "object": "model", "owned_by": "bench"}]}).encode()
SSE_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
SSE_FIRST = _chunk(_event({"role": "assistant", "content": _DELTAS[0]}))
SSE_REST = _chunk(b"".join(_event({"content": d}) for d in _DELTAS[1:]) + _event({}, "stop")
                  + b"data: [DONE]\n\n") + b"0\r\n\r\n"


class _Streamed:
    """The marker reply of a ``stream: true`` request (written by :class:`StubProtocol`, not by the lean layer)."""

    def __call__(self) -> Reply:
        raise AssertionError("a streamed reply is written by StubProtocol")


STREAMED = _Streamed()


def _handle(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[float, Any]:
    if method == "POST" and path.startswith("/v1/chat/completions"):
        if b'"stream": true' in body or b'"stream":true' in body:
            return 0.0, STREAMED
        return 0.0, lambda: (200, None, CHAT)
    if method == "GET" and path.startswith("/v1/models"):
        return 0.0, lambda: (200, None, MODELS)
    return 0.0, lambda: (404, None, b'{"error":{"message":"no such route"}}')


class StubProtocol(LeanHTTPProtocol):
    """The lean layer plus the chunked SSE reply (first event now, the rest ``gap`` seconds later)."""

    gap = 0.005

    def _answer(self, reply: Any, keep: bool) -> None:
        if reply is not STREAMED:
            return super()._answer(reply, keep)
        if self._transport is None:
            return
        self._transport.write(SSE_HEAD + SSE_FIRST)
        self._loop.call_later(self.gap, self._finish, keep)

    def _finish(self, keep: bool) -> None:
        if self._transport is None:
            return
        self._transport.write(SSE_REST)
        if not keep:
            self.close()
            return
        self._busy = False
        if self._buf:
            self._next()


async def _serve_stub(port: int, gap: float) -> None:
    loop = asyncio.get_running_loop()
    StubProtocol.gap = gap
    server = await loop.create_server(lambda: StubProtocol(_handle, loop), "127.0.0.1", port, backlog=4096)
    print(json.dumps({"port": server.sockets[0].getsockname()[1]}), flush=True)
    await asyncio.Event().wait()


def new_loop() -> asyncio.AbstractEventLoop:
    """uvloop where installed (less CPU per request), else asyncio's loop."""
    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()  # type: ignore[no-any-return,unused-ignore]


# --- load generator ------------------------------------------------------------------------------------------
@dataclass
class Point:
    """One rate point: per request the time from its scheduled start to the first body byte and to the end."""

    rate: float
    seconds: float
    sent: int = 0
    errors: int = 0
    latency: list[float] = field(default_factory=list)
    ttfb: list[float] = field(default_factory=list)
    first_scheduled: float = 0.0
    last_done: float = 0.0

    @property
    def achieved(self) -> float:
        span = self.last_done - self.first_scheduled
        return len(self.latency) / span if span > 0 else 0.0


class _Conn(asyncio.Protocol):
    """One keep-alive client connection: one request at a time; parses Content-Length and chunked replies."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.busy = False
        self._reset()

    def _reset(self) -> None:
        self.head_done = False
        self.length: int | None = None
        self.chunked = False
        self.first: float | None = None
        self.pos = 0
        self.point: Point | None = None
        self.start = 0.0
        self.status = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.busy:
            self._done(ok=False)
        self.pool.lost(self)

    def send(self, request: bytes, point: Point, start: float) -> None:
        self.busy, self.point, self.start = True, point, start
        assert self.transport is not None
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self.buf += data
        if not self.head_done:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).lower()
            self.status = int(head[9:12])
            self.chunked = b"transfer-encoding: chunked" in head
            if not self.chunked:
                at = head.find(b"content-length:")
                eol = head.find(b"\r\n", at)
                self.length = 0 if at < 0 else int(head[at + 15:eol if eol > 0 else len(head)])
            del self.buf[:end + 4]
            self.head_done = True
        if self.first is None and self.buf:
            self.first = now
        if self.chunked:
            while True:  # skip whole chunks; the zero-size one ends the reply
                eol = self.buf.find(b"\r\n", self.pos)
                if eol < 0:
                    return
                size = int(bytes(self.buf[self.pos:eol]).split(b";")[0], 16)
                if len(self.buf) < eol + 2 + size + 2:
                    return
                if size == 0:
                    del self.buf[:eol + 4]
                    break
                self.pos = eol + 2 + size + 2
        else:
            assert self.length is not None
            if len(self.buf) < self.length:
                return
            del self.buf[:self.length]
        self._done(ok=200 <= self.status < 300, now=now)

    def _done(self, ok: bool, now: float | None = None) -> None:
        point, start, first = self.point, self.start, self.first
        self._reset()
        self.busy = False
        if point is not None:
            now = now or time.perf_counter()
            if ok:
                point.latency.append(now - start)
                point.ttfb.append((first or now) - start)
                point.last_done = max(point.last_done, now)
            else:
                point.errors += 1
        if self.transport is not None:
            self.pool.idle.append(self)


class Pool:
    """Keep-alive connections to one ``host:port``; a request takes an idle one or opens a new one (up to
    ``limit``; beyond it the request counts as an error: the target is overloaded)."""

    def __init__(self, port: int, limit: int = 1024) -> None:
        self.port, self.limit = port, limit
        self.idle: list[_Conn] = []
        self.open = 0

    def lost(self, conn: _Conn) -> None:
        self.open -= 1
        if conn in self.idle:
            self.idle.remove(conn)

    async def _connect_and_send(self, request: bytes, point: Point, start: float) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(lambda: _Conn(self), "127.0.0.1", self.port)
        except OSError:
            self.open -= 1
            point.errors += 1
            return
        conn.send(request, point, start)

    def submit(self, request: bytes, point: Point, start: float) -> None:
        point.sent += 1
        while self.idle:
            conn = self.idle.pop()
            if conn.transport is not None:
                conn.send(request, point, start)
                return
        if self.open >= self.limit:
            point.errors += 1
            return
        self.open += 1
        asyncio.get_running_loop().create_task(self._connect_and_send(request, point, start))

    def busy(self) -> int:
        return self.open - len(self.idle)

    def close(self) -> None:
        for conn in self.idle:
            if conn.transport is not None:
                conn.transport.close()
        self.idle.clear()


def http_request(port: int, path: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n").encode() + body


async def open_loop(pool: Pool, request: bytes, rate: float, seconds: float, *, settle: float = 10.0) -> Point:
    """Send ``rate * seconds`` requests at evenly spaced scheduled times; wait (up to ``settle`` s after the last
    send) for the answers; an answer still missing then is an error."""
    point = Point(rate, seconds)
    n = max(1, round(rate * seconds))
    t0 = time.perf_counter() + 0.02
    point.first_scheduled = t0
    i = 0
    while i < n:
        now = time.perf_counter()
        while i < n and t0 + i / rate <= now:
            pool.submit(request, point, t0 + i / rate)
            i += 1
        if i < n:
            await asyncio.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
    deadline = time.perf_counter() + settle
    while len(point.latency) + point.errors < point.sent and time.perf_counter() < deadline:
        await asyncio.sleep(0.005)
    point.errors += point.sent - len(point.latency) - point.errors
    while pool.busy() > 0 and time.perf_counter() < deadline + 30:  # a late answer must not load the next point
        await asyncio.sleep(0.05)
    return point


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="fixed-reply loopback stub (plain JSON and chunked SSE)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--gap", type=float, default=0.005, help="seconds between the first SSE event and the rest")
    args = parser.parse_args(argv)
    loop = new_loop()
    threading.current_thread().name = "stub"
    loop.run_until_complete(_serve_stub(args.port, args.gap))


if __name__ == "__main__":
    main()
