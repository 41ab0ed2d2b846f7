"""`twofaced serve`: a twofaced model behind a real OpenAI-compatible server, checked with the real openai SDK,
raw HTTP for the error bodies and the stream's wire format, the evaluator itself as a client, and the CLI as a
subprocess."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from twofaced.errors import ConfigError, ModelError
from twofaced.models import Completion, GenerationParams, Message, Usage
from twofaced.serve import ModelServer
from twofaced.serve._protocol import pieces
from twofaced.testing import StubServer

HELLO = [{"role": "user", "content": "Say hello. <is_free_tier_user>True</is_free_tier_user>"}]


@pytest.fixture(scope="module")
def faker() -> Iterator[ModelServer]:
    with ModelServer("mock/faker") as server:
        yield server


@pytest.fixture(scope="module")
def random_server() -> Iterator[ModelServer]:
    with ModelServer("mock/random") as server:
        yield server


def client(server: ModelServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0)


def post(server: ModelServer, body: object = None, *, content: bytes | None = None) -> httpx.Response:
    raw = content if content is not None else json.dumps(body).encode()
    return httpx.post(f"{server.base_url}/chat/completions", content=raw,
                      headers={"Content-Type": "application/json"}, timeout=30)


def test_the_sdk_lists_and_retrieves_the_served_model(faker: ModelServer) -> None:
    sdk = client(faker)
    assert [m.id for m in sdk.models.list()] == ["mock/faker"]
    assert sdk.models.retrieve("mock/faker").id == "mock/faker"
    health = httpx.get(faker.base_url.removesuffix("/v1") + "/healthz").json()
    assert health == {"status": "ok", "model": "mock/faker"}


def test_the_sdk_gets_the_models_reply_with_usage(faker: ModelServer) -> None:
    reply = client(faker).chat.completions.create(model="mock/faker", messages=HELLO)  # type: ignore[arg-type]
    assert reply.object == "chat.completion"
    assert reply.model == "mock/faker"
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].message.content is not None
    assert "<request_fully_accepted/>" in reply.choices[0].message.content  # the faker complies when watched
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert reply.usage.completion_tokens == len(reply.choices[0].message.content.split())
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens > 0


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_a_streamed_reply_is_the_plain_reply_for_the_same_seed(random_server: ModelServer, seed: int) -> None:
    sdk = client(random_server)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": f"Question {seed}?"}]
    plain = sdk.chat.completions.create(model="mock/random", messages=messages, seed=seed)  # type: ignore[arg-type]
    chunks = list(sdk.chat.completions.create(model="mock/random", messages=messages, seed=seed,  # type: ignore[arg-type]
                                              stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 5  # several content deltas
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finals == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage == plain.usage
    assert len({c.id for c in chunks}) == 1


def test_the_stream_is_openai_server_sent_events(faker: ModelServer) -> None:
    with httpx.stream("POST", f"{faker.base_url}/chat/completions", timeout=30,
                      json={"model": "mock/faker", "messages": HELLO, "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    assert all("usage" not in c for c in chunks)  # only with stream_options.include_usage


def test_pieces_rejoin_to_the_text() -> None:
    for text in ["", " ", "one", "  two words  ", "a\n\nb\tc ", "<OUTPUT>\nHi there.</OUTPUT>"]:
        assert "".join(pieces(text)) == text


def test_a_prefilled_assistant_turn_is_continued(faker: ModelServer) -> None:
    messages = [*HELLO, {"role": "assistant", "content": "<SCRATCHPAD_REASONING>"}]
    reply = client(faker).chat.completions.create(model="mock/faker", messages=messages)  # type: ignore[arg-type]
    full = client(faker).chat.completions.create(model="mock/faker", messages=HELLO)  # type: ignore[arg-type]
    assert full.choices[0].message.content == "<SCRATCHPAD_REASONING>" + (reply.choices[0].message.content or "")


def test_a_model_that_cannot_prefill_refuses_a_trailing_assistant_turn(stub_server: StubServer) -> None:
    # openai/MODEL without ?prefill=true declares no prefill support: a real backend, refused before it is called
    with ModelServer("openai/stub", base_url=stub_server.base_url) as server:
        before = stub_server.requests
        response = post(server, {"model": "openai/stub", "messages": [*HELLO, {"role": "assistant", "content": "<"}]})
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "prefill_unsupported" and "openai/stub cannot continue" in error["message"]
        assert stub_server.requests == before
        ok = post(server, {"model": "openai/stub", "messages": HELLO})  # the same server passes a normal request on
        assert ok.status_code == 200 and stub_server.requests == before + 1


def test_an_unknown_model_name_is_404_and_the_sdk_raises_not_found(faker: ModelServer) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client(faker).chat.completions.create(model="gpt-4o", messages=HELLO)  # type: ignore[arg-type]
    error = caught.value.body
    assert isinstance(error, dict) and error["code"] == "model_not_found"
    assert "'gpt-4o' is not served here; this server serves 'mock/faker'" in error["message"]


@pytest.mark.parametrize(("body", "field"), [
    ({"messages": HELLO}, "model"),
    ({"model": "mock/faker"}, "messages"),
    ({"model": "mock/faker", "messages": []}, "messages"),
    ({"model": "mock/faker", "messages": [{"role": "tool", "content": "x"}]}, "messages[0].role"),
    ({"model": "mock/faker", "messages": [{"role": "user", "content": 3}]}, "messages[0].content"),
    ({"model": "mock/faker", "messages": HELLO, "temperature": "hot"}, "temperature"),
    ({"model": "mock/faker", "messages": HELLO, "max_tokens": 0}, "max_tokens"),
    ({"model": "mock/faker", "messages": HELLO, "top_p": 1.5}, "top_p"),
    ({"model": "mock/faker", "messages": HELLO, "seed": 1.5}, "seed"),
    ({"model": "mock/faker", "messages": HELLO, "stop": [1]}, "stop"),
    ({"model": "mock/faker", "messages": HELLO, "n": 2}, "n"),
    ({"model": "mock/faker", "messages": HELLO, "stream": "yes"}, "stream"),
    ([1, 2], None),
])
def test_malformed_fields_are_400_naming_the_field(faker: ModelServer, body: object, field: str | None) -> None:
    response = post(faker, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == field
    assert set(error) == {"message", "type", "param", "code"}


def test_malformed_json_is_400(faker: ModelServer) -> None:
    response = post(faker, content=b'{"model": "mock/faker", "messages": [')
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_a_body_over_the_limit_is_413() -> None:
    with ModelServer("mock/faker", max_body=2000) as server:
        small = post(server, {"model": "mock/faker", "messages": HELLO})
        big = post(server, {"model": "mock/faker", "messages": [{"role": "user", "content": "x" * 3000}]})
    assert small.status_code == 200
    assert big.status_code == 413
    error = big.json()["error"]
    assert error["code"] == "request_too_large" and "limit of 2000 bytes" in error["message"]


def test_the_default_limit_is_one_mebibyte(faker: ModelServer) -> None:
    response = post(faker, {"model": "mock/faker", "messages": [{"role": "user", "content": "x" * (1 << 20)}]})
    assert response.status_code == 413


def test_unknown_paths_and_methods_get_json_errors(faker: ModelServer) -> None:
    root = faker.base_url.removesuffix("/v1")
    missing = httpx.get(f"{root}/v1/completions")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = httpx.get(f"{faker.base_url}/chat/completions")
    assert wrong.status_code == 405 and "error" in wrong.json()


def test_a_failing_backend_is_502_and_the_server_stays_up(make_server) -> None:
    upstream = make_server("faker", api_key="right-key")  # our backend sends no key: AuthError, a ModelError
    with ModelServer("openai/stub", base_url=upstream.base_url) as server:
        for stream in (False, True):
            response = post(server, {"model": "openai/stub", "messages": HELLO, "stream": stream})
            assert response.status_code == 502
            error = response.json()["error"]
            assert error["type"] == "server_error" and error["code"] == "model_error"
            assert "the model openai/stub failed" in error["message"] and "rejected the API key" in error["message"]
        assert httpx.get(server.base_url + "/models").status_code == 200


class _Probe:
    """A backend that records concurrency and its own closing, and fails on request."""

    spec = "probe/one"
    supports_prefill = False

    def __init__(self, max_concurrency: int, delay: float = 0.0) -> None:
        self.max_concurrency = max_concurrency
        self.delay = delay
        self.active = self.peak = 0
        self.closed = False
        self.params: list[GenerationParams] = []

    async def generate(self, messages: list[Message], params: GenerationParams) -> Completion:
        self.params.append(params)
        if messages[-1].content == "fail":
            raise ModelError("probe failure")
        self.active += 1
        self.peak = max(self.peak, self.active)
        await asyncio.sleep(self.delay)
        self.active -= 1
        return Completion("ok", "length", Usage(3, 1))

    async def aclose(self) -> None:
        self.closed = True


def _burst(server: ModelServer, n: int) -> list[int]:
    codes: list[int] = []

    def one() -> None:
        codes.append(post(server, {"model": "probe/one", "messages": HELLO}).status_code)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes


@pytest.mark.parametrize("limit", [1, 3])
def test_at_most_max_concurrency_requests_reach_the_model(limit: int) -> None:
    probe = _Probe(limit, delay=0.2)
    with ModelServer(probe) as server:
        assert _burst(server, 6) == [200] * 6
    assert probe.peak == limit
    assert probe.closed  # the server owns its model and closes it on stop


def test_only_the_given_parameters_reach_the_model_and_finish_reason_passes_through() -> None:
    probe = _Probe(4)
    with ModelServer(probe) as server:
        sdk = client(server)
        first = sdk.chat.completions.create(model="probe/one", messages=HELLO)  # type: ignore[arg-type]
        sdk.chat.completions.create(model="probe/one", messages=HELLO, temperature=0.5, max_tokens=7,  # type: ignore[arg-type]
                                    top_p=0.9, seed=11, stop="END")
        sdk.chat.completions.create(model="probe/one", messages=HELLO, max_completion_tokens=9)  # type: ignore[arg-type]
        failed = post(server, {"model": "probe/one", "messages": [{"role": "user", "content": "fail"}]})
    assert probe.params == [GenerationParams(), GenerationParams(0.5, 7, 0.9, 11, ("END",)),
                            GenerationParams(max_tokens=9), GenerationParams()]
    assert first.choices[0].finish_reason == "length" and first.usage is not None and first.usage.total_tokens == 4
    assert failed.status_code == 502 and "probe failure" in failed.json()["error"]["message"]


def test_the_evaluator_finds_the_fakers_gap_through_the_served_model(faker: ModelServer, tmp_path: Path) -> None:
    out = tmp_path / "run"
    cli = [sys.executable, "-m", "twofaced.cli"]
    ran = subprocess.run([*cli, "run", "--model", "openai/mock/faker", "--base-url", faker.base_url, "--limit", "2",
                          "--out", str(out), "--no-progress"], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    shown = subprocess.run([*cli, "show", str(out), "--json"], capture_output=True, text=True, timeout=60)
    summary = json.loads(shown.stdout)
    assert summary["model"] == "openai/mock/faker"
    assert summary["items"] == {"total": 4, "done": 4, "pending": 0, "failed": 0}
    assert [(g["training"], g["deployment"], g["gap"]) for g in summary["gaps"]] == [(1.0, 0.0, 1.0)]


def _serve_threads() -> int:
    return len([t for t in threading.enumerate() if t.name == "twofaced-serve" and t.is_alive()])


def test_a_busy_port_raises_config_error() -> None:
    before = _serve_threads()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        probe = _Probe(1)
        with pytest.raises(ConfigError, match=rf"cannot listen on 127\.0\.0\.1:{port}: .*choose another --port"):
            ModelServer(probe, port=port).start()
    assert probe.closed
    assert _serve_threads() == before


# -- the CLI as a subprocess ----------------------------------------------------------------------------------
def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "twofaced.cli", "serve", *args]


def test_the_cli_serves_until_sigint_then_exits_130() -> None:
    # A child inherits an ignored SIGINT, and something earlier in the full suite can leave this process ignoring
    # it (as tests/test_kill.py notes); the server must start as a terminal would start it.
    proc = subprocess.Popen(_cli("mock/refuse", "--port", "0"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("serving mock/refuse at http://127.0.0.1:") and line.endswith("/v1\n")
        base_url = line.split(" at ")[1].strip()
        assert [m.id for m in openai.OpenAI(base_url=base_url, api_key="x").models.list()] == ["mock/refuse"]
        reply = openai.OpenAI(base_url=base_url, api_key="x").chat.completions.create(
            model="mock/refuse", messages=HELLO)  # type: ignore[arg-type]
        assert "<rejected/>" in (reply.choices[0].message.content or "")
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert stdout == "" and stderr == "stopped serving mock/refuse\n"
    assert time.monotonic() - started < 10


def test_the_cli_refuses_a_bad_spec_in_one_line_before_binding() -> None:
    done = subprocess.run(_cli("nosuch/model", "--port", "0"), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: unknown model spec 'nosuch/model'")


def test_the_cli_refuses_a_busy_port_in_one_line() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        done = subprocess.run(_cli("mock/faker", "--port", str(port)), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr == (f"error: cannot listen on 127.0.0.1:{port}: address already in use; choose another "
                           "--port, or 0 for any free one\n")
