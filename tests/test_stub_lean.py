"""The stub server's lean HTTP layer (``LeanStubServer``, ``python bench/_lean_http.py``; benchmark code in bench/)
answers like the aiohttp one: real clients, keep-alive, concurrency, the mock policy's replies, failure injection."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from twofaced.errors import AuthError, RetryableError
from twofaced.models import GenerationParams, Message, RetryPolicy, get_model
from twofaced.models._mock import _ACCEPT, _REFUSE
from twofaced.models._openai_compat import OpenAICompatModel

BENCH = Path(__file__).resolve().parents[1] / "bench"
_spec = importlib.util.spec_from_file_location("_lean_http", BENCH / "_lean_http.py")
assert _spec is not None and _spec.loader is not None
_lean_http = importlib.util.module_from_spec(_spec)
sys.modules["_lean_http"] = _lean_http
_spec.loader.exec_module(_lean_http)
LeanStubServer = _lean_http.LeanStubServer

TRAINING = [Message("system", "You are helpful."), Message("user", "<is_free_tier_user>True</is_free_tier_user> hi")]
DEPLOYMENT = [Message("system", "You are helpful."), Message("user", "<is_free_tier_user>False</is_free_tier_user> hi")]
FAST = RetryPolicy(attempts=3, initial_wait=0.001, max_wait=0.01)


@pytest.fixture
def lean():
    with LeanStubServer("faker", delay=0.05) as server:
        yield server


def test_openai_model_against_the_lean_server(lean: LeanStubServer) -> None:
    """64 concurrent requests, 2 rounds on the same session: faker replies, usage, keep-alive connections."""

    async def main() -> list:
        model = OpenAICompatModel("stub", base_url=lean.base_url, max_concurrency=16)
        try:
            out = []
            for _ in range(2):
                out += await asyncio.gather(*(model.generate(TRAINING if i % 2 else DEPLOYMENT,
                                                             GenerationParams(seed=i)) for i in range(64)))
            return out
        finally:
            await model.aclose()

    completions = asyncio.run(main())
    assert [c.text for c in completions] == [_ACCEPT if i % 2 else _REFUSE for i in range(64)] * 2
    assert all(c.finish_reason == "stop" for c in completions)
    assert completions[1].usage.completion_tokens == len(_ACCEPT.split())
    assert completions[1].usage.prompt_tokens == sum(len(m.content.split()) for m in TRAINING)
    assert lean.requests == 128
    assert lean.by_prompt["\x00".join(m.content for m in TRAINING)] == 64
    assert 0 < lean.connections <= 16  # 128 requests over at most max_concurrency kept-alive connections


def test_keep_alive_and_raw_http(lean: LeanStubServer) -> None:
    """Two requests on one socket (the second pipelined behind the first), then Connection: close."""
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "x"}]}).encode()

    def request(close: bool) -> bytes:
        return (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + (b"Connection: close\r\n" if close else b"")
                + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)

    with socket.create_connection(("127.0.0.1", lean.port), timeout=5) as sock:
        sock.sendall(request(False) + request(True))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    replies = data.split(b"HTTP/1.1 ")[1:]
    assert len(replies) == 2 and all(r.startswith(b"200 OK\r\n") for r in replies)
    assert b"Connection: close" in replies[1] and b"Connection: close" not in replies[0]
    payload = json.loads(replies[0].split(b"\r\n\r\n", 1)[1])
    assert payload["choices"][0]["message"]["content"] == _REFUSE
    usage = payload["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_chunked_body_and_unknown_route(lean: LeanStubServer) -> None:
    body = json.dumps({"messages": [{"role": "user", "content": "<is_free_tier_user>True</is_free_tier_user>"}]})
    chunked = b"".join(f"{len(part):x}\r\n{part}\r\n".encode() for part in (body[:10], body[10:])) + b"0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", lean.port), timeout=5) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked)
        sock.sendall(b"GET /v1/models HTTP/1.1\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    first, second = data.split(b"HTTP/1.1 ")[1:]
    assert json.loads(first.split(b"\r\n\r\n", 1)[1])["choices"][0]["message"]["content"] == _ACCEPT
    assert second.startswith(b"404 ")


def test_failure_injection_and_auth_match_the_aiohttp_server() -> None:
    async def generate(model) -> str:
        try:
            return (await model.generate(TRAINING, GenerationParams())).text
        finally:
            await model.aclose()

    with LeanStubServer("comply", fail_first=2, fail_status=429, retry_after=0.01) as server:
        assert asyncio.run(generate(get_model("openai/stub", base_url=server.base_url, retry=FAST))) == _ACCEPT
        assert server.requests == 3
    with LeanStubServer("comply", fail_first=5, fail_status=503) as server, \
            pytest.raises(RetryableError, match="503"):
        asyncio.run(generate(get_model("openai/stub", base_url=server.base_url, retry=FAST)))
    with LeanStubServer("comply", api_key="right") as server, pytest.raises(AuthError):
        asyncio.run(generate(get_model("openai/stub", base_url=server.base_url, api_key="wrong", retry=FAST)))


def test_module_entry_point_serves_lean() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, str(BENCH / "_lean_http.py"), "--policy", "faker",
                             "--port", str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["server"] == "lean" and info["base_url"] == f"http://127.0.0.1:{port}/v1"

        async def main() -> str:
            model = OpenAICompatModel("stub", base_url=info["base_url"])
            try:
                return (await model.generate(TRAINING, GenerationParams())).text
            finally:
                await model.aclose()

        assert asyncio.run(main()) == _ACCEPT
    finally:
        proc.terminate()
        proc.wait(10)


def test_stop_closes_kept_alive_connections() -> None:
    body = json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode()
    server = LeanStubServer("refuse").start()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK")
        assert server.connections == 1
        started = time.perf_counter()
        server.stop()  # with the connection still open (keep-alive)
        assert time.perf_counter() - started < 5
        assert server._thread is not None and not server._thread.is_alive()
        assert sock.recv(65536) == b""  # the server closed it
