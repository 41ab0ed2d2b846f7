"""The stub server's lean HTTP layer, for benchmarks: :class:`LeanStubServer`, one ``asyncio.Protocol``, no framework.

Why: the benchmark's client and stub server share 2 cores, and aiohttp.web spends about 0.4 ms of CPU per
request (routing, request and response objects, header multidicts, a task per request), about as much as the
client it is measuring. This layer parses the request line, the headers and a ``Content-Length`` (or chunked)
body, hands the bytes to the stub's handler and writes one fixed-format response; the reply delay is a
``loop.call_later``, not a task. It speaks just enough HTTP for HTTP clients on loopback: keep-alive (the
HTTP/1.1 default; ``Connection: close`` and HTTP/1.0 close after the reply), requests on one connection
answered in order, ``Expect: 100-continue``. Not for anything but tests and benchmarks, so it lives in bench/
and is not installed: :class:`LeanStubServer` is the package's ``twofaced.testing.StubServer`` (same routes,
replies, failure injection and counters) served through this layer, optionally on uvloop.

    python bench/_lean_http.py --policy faker --delay 0.1 --port 8765 [--no-uvloop]   # serve until Ctrl-C

``bench/engine_overhead.py`` starts it that way; ``tests/test_stub_lean.py`` checks it against real clients.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from twofaced.testing import StubServer
from twofaced.testing._stub_server import _error

# handle(method, path, headers with lower-case names, body) -> (delay seconds, reply) where reply() gives
# (status, extra headers, JSON body bytes) and is called after the delay.
Reply = tuple[int, dict[str, str] | None, bytes]
Handler = Callable[[str, str, dict[str, str], bytes], tuple[float, Callable[[], Reply]]]

_MAX_HEAD = 64 * 1024
_REASONS = {s.value: s.phrase for s in HTTPStatus}


def _dechunk(data: bytearray, start: int) -> tuple[bytes, int] | None:
    """Decode a chunked body starting at ``start``: (body, end offset), or None while incomplete."""
    out, pos = bytearray(), start
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(bytes(data[pos:eol]).split(b";", 1)[0].strip() or b"0", 16)
        pos = eol + 2
        if size == 0:  # trailers (none expected) end with an empty line
            end = data.find(b"\r\n\r\n", pos - 2)
            return (bytes(out), end + 4) if end >= 0 else None
        if len(data) < pos + size + 2:
            return None
        out += data[pos : pos + size]
        pos += size + 2


class LeanHTTPProtocol(asyncio.Protocol):
    """One connection: parse a request, answer it (after the handler's delay), then the next one."""

    __slots__ = ("_buf", "_busy", "_continued", "_handle", "_live", "_loop", "_on_connect", "_transport")

    def __init__(self, handle: Handler, loop: asyncio.AbstractEventLoop,
                 on_connect: Callable[[], None] | None = None, live: set[LeanHTTPProtocol] | None = None) -> None:
        self._handle = handle
        self._on_connect = on_connect
        self._live = live  # the server's open connections, for closing them all
        self._loop = loop
        self._buf = bytearray()
        self._busy = False  # a request is being answered; later ones wait in the buffer
        self._continued = False  # sent "100 Continue" for the request being received
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        if self._live is not None:
            self._live.add(self)
        if self._on_connect is not None:
            self._on_connect()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if self._live is not None:
            self._live.discard(self)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if not self._busy:
            self._next()

    def _next(self) -> None:
        buf = self._buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > _MAX_HEAD:
                self._write(431, None, b'{"error":{"message":"request header too large"}}', False)
            return
        try:
            lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
            method, path, version = lines[0].split(" ", 2)
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if "chunked" in headers.get("transfer-encoding", "").lower():
                decoded = _dechunk(buf, end + 4)
                if decoded is None:
                    return self._continue(headers)
                body, consumed = decoded
            else:
                length = int(headers.get("content-length") or 0)
                consumed = end + 4 + length
                if len(buf) < consumed:
                    return self._continue(headers)
                body = bytes(buf[end + 4 : consumed])
        except ValueError:
            self._write(400, None, b'{"error":{"message":"malformed HTTP request"}}', False)
            return
        del buf[:consumed]
        self._continued = False
        connection = headers.get("connection", "").lower()
        keep = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        self._busy = True
        delay, reply = self._handle(method, path, headers, body)
        if delay > 0:
            self._loop.call_later(delay, self._answer, reply, keep)
        else:
            self._answer(reply, keep)

    def _continue(self, headers: dict[str, str]) -> None:
        """A body is still to come; answer ``Expect: 100-continue`` once so the client sends it."""
        expects = headers.get("expect", "").lower() == "100-continue"
        if expects and not self._continued and self._transport is not None:
            self._continued = True
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _answer(self, reply: Callable[[], Reply], keep: bool) -> None:
        if self._transport is None:  # the client went away during the delay
            return
        try:
            status, headers, body = reply()
        except Exception as exc:  # a handler bug: answer 500 rather than leave the client waiting
            status, headers, body = 500, None, json.dumps({"error": {"message": repr(exc)}}).encode()
        self._write(status, headers, body, keep)
        self._busy = False
        if keep and self._buf:
            self._next()

    def _write(self, status: int, headers: dict[str, str] | None, body: bytes, keep: bool) -> None:
        transport = self._transport
        if transport is None:
            return
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items()) if headers else ""
        close = "" if keep else "Connection: close\r\n"
        head = (f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n{extra}{close}\r\n")
        transport.write(head.encode("latin-1") + body)
        if not keep:
            transport.close()
            self._transport = None


class LeanServer:
    """A listening lean server and its open connections; :meth:`aclose` closes both."""

    def __init__(self, server: asyncio.Server, protocols: set[LeanHTTPProtocol]) -> None:
        self.server = server
        self.sockets = server.sockets
        self._protocols = protocols

    async def aclose(self) -> None:
        self.server.close()
        for protocol in list(self._protocols):  # keep-alive connections would otherwise stay open
            protocol.close()
        await self.server.wait_closed()


async def serve_lean(handle: Handler, host: str, port: int, *, backlog: int = 1024,
                     on_connect: Callable[[], None] | None = None) -> LeanServer:
    """Start listening. ``on_connect`` is called once per accepted connection."""
    loop = asyncio.get_running_loop()
    protocols: set[LeanHTTPProtocol] = set()

    def factory() -> LeanHTTPProtocol:
        return LeanHTTPProtocol(handle, loop, on_connect, protocols)

    return LeanServer(await loop.create_server(factory, host, port, backlog=backlog), protocols)


class LeanStubServer(StubServer):
    """:class:`StubServer` served by the lean layer; ``connections`` counts accepted TCP connections.

    ``uvloop=True`` runs its loop on uvloop where that is installed (``loop_name`` says which loop ran).
    """

    def __init__(self, policy: str = "faker", *, delay: float = 0.0, fail_first: int = 0, fail_status: int = 500,
                 retry_after: float | None = None, api_key: str | None = None, host: str = "127.0.0.1",
                 port: int = 0, uvloop: bool = False) -> None:
        super().__init__(policy, delay=delay, fail_first=fail_first, fail_status=fail_status,
                         retry_after=retry_after, api_key=api_key, host=host, port=port)
        self.uvloop = uvloop
        self.loop_name = "asyncio"
        self.connections = 0

    def _connected(self) -> None:
        self.connections += 1

    def _route(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[float, Any]:
        """Route one request: (delay, reply thunk). Same answers as the aiohttp routes of :class:`StubServer`."""
        path = path.split("?", 1)[0]
        if path not in ("/v1/chat/completions", "/v1/messages"):
            return 0.0, lambda: _error(404, f"no route {path}")
        if method != "POST":
            return 0.0, lambda: _error(405, f"method {method} not allowed")
        failed = self._gate({"Authorization": headers.get("authorization", ""),
                             "x-api-key": headers.get("x-api-key", "")})
        if failed is not None:
            return 0.0, lambda: failed
        try:
            body = json.loads(raw)
            chat = path == "/v1/chat/completions"
            messages = self._chat_messages(body) if chat else self._anthropic_messages(body)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            bad = _error(400, f"bad request body: {exc!r}")
            return 0.0, lambda: bad
        model = body.get("model", "stub")

        def reply() -> Reply:
            if chat:
                return 200, None, self._chat_body(model, messages, self._answer(messages, body.get("seed")))
            return 200, None, self._messages_body(model, self._answer(messages, None))

        return self.delay, reply

    def _new_loop(self) -> asyncio.AbstractEventLoop:
        if self.uvloop:
            try:
                import uvloop  # type: ignore[import-not-found]  # optional, not a dependency
            except ImportError:
                pass
            else:
                self.loop_name = "uvloop"
                return uvloop.new_event_loop()  # type: ignore[no-any-return,unused-ignore]  # Any without stubs
        return asyncio.new_event_loop()

    def _serve(self) -> None:
        loop = self._new_loop()
        self._loop = loop
        lean = loop.run_until_complete(serve_lean(self._route, self.host, self.port, on_connect=self._connected))
        self.port = lean.sockets[0].getsockname()[1]
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(lean.aclose())
        loop.close()


def main(argv: list[str] | None = None) -> None:
    """``python bench/_lean_http.py --policy faker --delay 0.1 --port 8765``: serve until Ctrl-C.

    Prints one JSON line once listening: ``{"base_url": ..., "server": "lean", "loop": "asyncio"|"uvloop"}``.
    """
    parser = argparse.ArgumentParser(description="Loopback OpenAI-compatible stub server, lean HTTP layer")
    parser.add_argument("--policy", default="faker")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--no-uvloop", action="store_true", help="do not use uvloop even if installed")
    args = parser.parse_args(argv)
    server = LeanStubServer(args.policy, delay=args.delay, port=args.port, uvloop=not args.no_uvloop).start()
    print(json.dumps({"base_url": server.base_url, "server": "lean", "loop": server.loop_name}), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
