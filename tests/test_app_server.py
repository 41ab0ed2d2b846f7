"""The shared runner of serve, the monitor and the stub (``_util/_app_server.py``): a stop does not wait on a request
that never ends, cleanup hooks run on stop and on a failed start, and a server starts once."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from typing import ClassVar

import httpx
import pytest
from aiohttp import web

from twofaced._util._app_server import BackgroundServer
from twofaced.errors import ConfigError


class HangingServer(BackgroundServer):
    """``GET /v1/hang`` never answers; ``cleaned`` is set by the app's cleanup hook."""

    thread_name: ClassVar[str] = "twofaced-test-hanging"

    def __init__(self, port: int = 0) -> None:
        self.entered = threading.Event()
        self.cleaned = threading.Event()
        app = web.Application()
        app.router.add_get("/v1/hang", self._hang)
        app.on_cleanup.append(self._cleanup)
        super().__init__(app, "127.0.0.1", port)

    async def _hang(self, request: web.Request) -> web.Response:
        self.entered.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def _cleanup(self, app: web.Application) -> None:
        self.cleaned.set()


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_stop_ends_a_request_that_never_answers_and_runs_cleanup() -> None:
    server = HangingServer().start()
    assert server.port != 0 and server.base_url == f"http://127.0.0.1:{server.port}/v1"
    outcome: list[object] = []

    def call() -> None:
        try:
            outcome.append(httpx.get(f"{server.base_url}/hang", timeout=60).status_code)
        except httpx.HTTPError as exc:
            outcome.append(type(exc))

    client = threading.Thread(target=call)
    client.start()
    assert server.entered.wait(30)
    server.stop()  # in-flight requests get the grace (2 s), not aiohttp's 60 s nor forever
    assert server._thread is not None and not server._thread.is_alive()
    assert server.cleaned.is_set()
    client.join(30)
    assert outcome and outcome[0] != 200  # the hanging request was cut, not answered


def test_a_busy_port_is_one_config_error_with_cleanup_and_no_thread(busy_port: int) -> None:
    server = HangingServer(busy_port)
    with pytest.raises(ConfigError, match=rf"^cannot listen on 127\.0\.0\.1:{busy_port}: .*; choose another --port"):
        server.start()
    assert server.cleaned.is_set()
    assert not [t for t in threading.enumerate() if t.name == HangingServer.thread_name and t.is_alive()]


def test_a_server_starts_once() -> None:
    with HangingServer() as server, pytest.raises(RuntimeError, match="HangingServer starts once"):
        server.start()
