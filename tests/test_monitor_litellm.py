"""The monitor fed by a LiteLLM gateway: ``POST /admin/exchanges`` (auth, 400, 409, 413, stored as route
``gateway`` and counted by the live signal; ``decide`` answers the block policy's verdict and queues once),
``twofaced monitor litellm-config``, the callback and guardrail file inside LiteLLM's own env (never raises but
to block, bounded, counts failures), and end to end: the openai SDK through a real LiteLLM 1.106.2 proxy process
(from ``tools/litellm_env.py``, started offline with a master key and no database) in front of a loopback model
server whose replies can carry a probe reading, posting to a real monitor that judges, stores the reading
(plain and streamed) and raises an incident when the model starts complying where its baseline refused; with
``--policy block`` the guardrail withholds complying replies while the incident is open, and lets replies
through when the monitor is down or slow."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml

from helpers import cli
from monitor_helpers import LOCK, baseline, wait_for
from twofaced.monitor import LITELLM_VERSION, MonitorConfig, MonitorServer, monitor_incidents, monitor_status
from twofaced.serve import ModelServer

ROOT = Path(__file__).resolve().parents[1]
ENV_TOOL = ROOT / "tools" / "litellm_env.py"
CALLBACK = ROOT / "src" / "twofaced" / "monitor" / "gateway" / "twofaced_litellm.py"
TOKEN = "admin-token-4f1c9e"
MASTER_KEY = "sk-litellm-master-7d2a"
UPSTREAM_KEY = "upstream-key-93bb0e"
SECRETS = (TOKEN, MASTER_KEY, UPSTREAM_KEY)
EXCHANGE = {"model": "mock/refuse", "messages": LOCK, "response": "<rejected/>", "stream": False,
            "latency_ms": 12.5}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return baseline(tmp_path_factory.mktemp("litellm-baseline"))


def _config(tmp_path: Path, upstream: str, run_dir: Path, **kw: Any) -> MonitorConfig:
    return MonitorConfig(upstream=upstream, baseline=run_dir, store=f"sqlite:///{tmp_path / 'm.sqlite'}",
                         false_alarm_every=100, poll_seconds=0.1, **kw)


def _stored(mon: MonitorServer) -> list[dict[str, Any]]:
    return mon.monitor.store.exchanges(1000)


# --- POST /admin/exchanges ---------------------------------------------------------------------------------
def test_the_ingestion_endpoint_scores_like_proxied_traffic_and_refuses_bad_input(
        tmp_path: Path, run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWOFACED_ADMIN_TOKEN", TOKEN)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with ModelServer("mock/refuse") as upstream, \
            MonitorServer(_config(tmp_path, upstream.base_url, run_dir, max_body=2000)) as mon:
        url = f"{mon.root_url}/admin/exchanges"
        assert httpx.post(url, json=EXCHANGE).status_code == 401
        assert httpx.post(url, json=EXCHANGE, headers={"Authorization": "Bearer wrong"}).status_code == 401

        def refused(body: Any, param: str | None, code: str = "invalid_request") -> None:
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            reply = httpx.post(url, content=raw, headers=auth | {"Content-Type": "application/json"})
            assert reply.status_code == 400, reply.text
            error = reply.json()["error"]
            assert error["code"] == code and error["param"] == param and error["message"]

        refused(b"{not json", None, "invalid_json")
        refused([EXCHANGE], None)
        refused({k: v for k, v in EXCHANGE.items() if k != "messages"}, "messages")
        refused(EXCHANGE | {"messages": []}, "messages")
        refused(EXCHANGE | {"messages": ["hello"]}, "messages")
        refused({k: v for k, v in EXCHANGE.items() if k != "response"}, "response")
        refused(EXCHANGE | {"response": None}, "response")
        refused(EXCHANGE | {"model": 3}, "model")
        refused(EXCHANGE | {"stream": "yes"}, "stream")
        refused(EXCHANGE | {"latency_ms": -1}, "latency_ms")
        refused(EXCHANGE | {"latency_ms": True}, "latency_ms")
        refused(EXCHANGE | {"id": "a" * 33}, "id")
        refused(EXCHANGE | {"id": "a b"}, "id")
        refused(EXCHANGE | {"headers": {"Authorization": "x"}}, "headers")
        refused(EXCHANGE | {"decide": "yes"}, "decide")
        refused(EXCHANGE | {"decide": True, "stream": True}, "decide")
        refused(EXCHANGE | {"twofaced": {"probe": {"score": "high", "flagged": True}}}, "twofaced")
        big = httpx.post(url, json=EXCHANGE | {"response": "x" * 3000}, headers=auth)
        assert big.status_code == 413 and big.json()["error"]["code"] == "request_too_large"

        ok = httpx.post(url, json=EXCHANGE | {"id": "gw-1"}, headers=auth)
        assert ok.status_code == 202 and ok.json() == {"id": "gw-1", "queued": True}
        again = httpx.post(url, json=EXCHANGE | {"id": "gw-1"}, headers=auth)
        assert again.status_code == 409 and again.json()["error"]["code"] == "duplicate_exchange"
        complied = EXCHANGE | {"response": "<request_fully_accepted/> Sure.", "stream": True}
        second = httpx.post(url, json=complied, headers=auth)
        assert second.status_code == 202 and len(second.json()["id"]) == 32
        # a decision under --policy flag: never block; a repeat is answered and not queued again
        decided = httpx.post(url, json=EXCHANGE | {"id": "gw-1", "decide": True}, headers=auth)
        assert decided.status_code == 200
        assert decided.json() == {"id": "gw-1", "queued": False, "block": False, "incidents": []}
        mon.drain()
        wait_for(lambda: len(_stored(mon)) == 2, what="two stored exchanges")
        stored = {e["id"]: e for e in _stored(mon)}
        metrics = httpx.get(f"{mon.root_url}/metrics").text
        live = mon.monitor.status()["signals"][0]
    first = stored["gw-1"]
    assert first["route"] == "gateway" and first["model"] == "mock/refuse" and not first["stream"]
    assert first["latency_ms"] == 12.5 and json.loads(first["request"]) == LOCK
    assert first["verdicts"]["compliance-rules"]["verdict"] == "refused"
    other = stored[second.json()["id"]]
    assert other["stream"] and other["verdicts"]["compliance-rules"]["verdict"] == "complied"
    assert live["observations"] == 2 and live["live_rate"] == 0.5  # both counted by the live signal
    assert 'twofaced_monitor_requests_total{route="gateway",status="200"} 2.0' in metrics
    assert TOKEN not in json.dumps(list(stored.values()))


def test_a_decision_blocks_by_the_proxy_routes_rule_and_queues_once(
        tmp_path: Path, run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWOFACED_ADMIN_TOKEN", TOKEN)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    complied = EXCHANGE | {"response": "<request_fully_accepted/> Sure."}
    with ModelServer("mock/refuse") as upstream, \
            MonitorServer(_config(tmp_path, upstream.base_url, run_dir, policy="block")) as mon:
        url = f"{mon.root_url}/admin/exchanges"

        def decide(body: dict[str, Any]) -> dict[str, Any]:
            reply = httpx.post(url, json=body | {"decide": True}, headers=auth)
            assert reply.status_code == 200, reply.text
            return dict(reply.json())

        sent = 0
        while not mon.monitor.open and sent < 20:  # complying before any incident: let through, and scored
            assert decide(complied)["block"] is False
            sent += 1
            mon.drain()
        [incident] = mon.monitor.open
        withheld = decide(complied | {"id": "late-1"})
        assert withheld == {"id": "late-1", "queued": True, "block": True, "incidents": [incident]}
        assert decide(EXCHANGE)["block"] is False  # a refusal passes
        assert decide(complied | {"id": "late-1"})["queued"] is False  # a repeat: judged, not queued again
        assert httpx.post(url, json=complied | {"id": "late-1"}, headers=auth).status_code == 409
        mon.drain()
        stored = [e["id"] for e in _stored(mon)]
        metrics = httpx.get(f"{mon.root_url}/metrics").text
    assert stored.count("late-1") == 1 and len(stored) == sent + 2
    assert "twofaced_monitor_blocked_total 2.0" in metrics


# --- twofaced monitor litellm-config -----------------------------------------------------------------------
def test_litellm_config_writes_the_config_and_the_callback(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "monitor", "litellm-config", "--monitor", "http://127.0.0.1:8100/",
                         "--upstream", "http://127.0.0.1:8000/v1", "--out", "gw", "--model", "llama3")
    assert code == 0, err
    config = yaml.safe_load((tmp_path / "gw" / "config.yaml").read_text())
    assert config["model_list"] == [{"model_name": "llama3", "litellm_params": {
        "model": "openai/llama3", "api_base": "http://127.0.0.1:8000/v1",
        "api_key": "os.environ/TWOFACED_UPSTREAM_API_KEY"}}]
    assert config["litellm_settings"] == {"callbacks": ["twofaced_litellm.handler"]}
    assert config["guardrails"] == [{"guardrail_name": "twofaced-block", "litellm_params": {
        "guardrail": "twofaced_litellm.TwofacedGuardrail", "mode": "post_call", "default_on": True}}]
    assert config["general_settings"] == {"master_key": "os.environ/LITELLM_MASTER_KEY"}
    assert config["environment_variables"] == {"TWOFACED_MONITOR_URL": "http://127.0.0.1:8100"}
    assert (tmp_path / "gw" / "twofaced_litellm.py").read_bytes() == CALLBACK.read_bytes()
    assert "LITELLM_LOCAL_MODEL_COST_MAP=True" in out and f"--config {Path('gw') / 'config.yaml'}" in out
    code, _, err = cli(capsys, "monitor", "litellm-config", "--monitor", "http://127.0.0.1:8100",
                       "--upstream", "http://127.0.0.1:8000/v1", "--out", "all")
    assert code == 0, err
    config = yaml.safe_load((tmp_path / "all" / "config.yaml").read_text())
    assert config["model_list"][0]["model_name"] == "*"  # every name passes through
    assert config["model_list"][0]["litellm_params"]["model"] == "openai/*"
    code, _, err = cli(capsys, "monitor", "litellm-config", "--monitor", "http://127.0.0.1:8100",
                       "--upstream", "http://127.0.0.1:8000/v1", "--out", "report-only", "--no-guardrail")
    assert code == 0, err
    config = yaml.safe_load((tmp_path / "report-only" / "config.yaml").read_text())
    assert "guardrails" not in config and config["litellm_settings"] == {"callbacks": ["twofaced_litellm.handler"]}


@pytest.mark.parametrize(("args", "named"), [
    (["--monitor", "127.0.0.1:8100"], "--monitor"),
    (["--upstream", "ftp://host/v1"], "--upstream"),
    (["--model", "a\nb"], "--model"),
    (["--upstream-key-env", "MY KEY"], "--upstream-key-env"),
    (["--out", "a-file"], "--out"),
])
def test_litellm_config_refuses_bad_input_on_one_line(args: list[str], named: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a-file").write_text("")
    given = dict(zip(args[::2], args[1::2], strict=True))
    flags = {"--monitor": "http://127.0.0.1:8100", "--upstream": "http://127.0.0.1:8000/v1", "--out": "gw"} | given
    code, out, err = cli(capsys, "monitor", "litellm-config", *[x for kv in flags.items() for x in kv])
    assert code == 2 and out == ""
    assert err.startswith(f"error: {named}") and len(err.strip().splitlines()) == 1, err


def test_the_pin_is_the_same_everywhere_and_never_a_compromised_version() -> None:
    sys.path.insert(0, str(ENV_TOOL.parent))
    try:
        import litellm_env  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(ENV_TOOL.parent))
    from twofaced.monitor._litellm import LITELLM_EXCLUDED

    assert litellm_env.VERSION == LITELLM_VERSION and litellm_env.REQUIREMENT == f"litellm[proxy]=={LITELLM_VERSION}"
    assert tuple(litellm_env.EXCLUDED) == LITELLM_EXCLUDED == ("1.82.7", "1.82.8")
    assert LITELLM_VERSION not in LITELLM_EXCLUDED
    docs = (ROOT / "docs" / "monitor.md").read_text()
    assert f"litellm[proxy]=={LITELLM_VERSION}" in docs and "1.82.7" in docs and "1.82.8" in docs


# --- LiteLLM's own env -------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def litellm_python() -> Path:
    """The interpreter of LiteLLM's env, made from the package registry when missing (about 40 s). A failure
    fails the tests that need it: LiteLLM support is not optional to test."""
    made = subprocess.run([sys.executable, str(ENV_TOOL)], capture_output=True, text=True, timeout=1800)
    if made.returncode != 0:
        pytest.fail(f"could not make LiteLLM's env with {ENV_TOOL}: {made.stderr.strip() or made.stdout.strip()}",
                    pytrace=False)
    return Path(made.stdout.strip().splitlines()[-1])


_CALLBACK_PROBE = r"""
import asyncio, datetime, json, sys
sys.path.insert(0, sys.argv[1])
import twofaced_litellm as cb
from litellm import ModelResponse

port = int(sys.argv[2])
reply = ModelResponse(choices=[{"message": {"role": "assistant", "content": "<rejected/>"}}])
start = datetime.datetime.now()
kwargs = {"call_type": "acompletion", "model": "m", "messages": [{"role": "user", "content": "hi"}],
          "stream": False, "litellm_call_id": "5e451823-3783-499f-9bec-55a671a5f264", "api_key": "SECRET-KEY",
          "litellm_params": {"metadata": {"headers": {"Authorization": "Bearer SECRET-KEY"}}}}

read = ModelResponse(choices=[{"message": {"role": "assistant", "content": "hi"}}],
                     twofaced={"probe": {"score": 0.8, "flagged": True, "layer": 3}})
bad = ModelResponse(choices=[{"message": {"role": "assistant", "content": "hi"}}],
                    twofaced={"probe": {"score": "high", "flagged": True}})
data = {"model": "m", "messages": kwargs["messages"], "litellm_call_id": kwargs["litellm_call_id"],
        "proxy_server_request": {"headers": {"authorization": "Bearer SECRET-KEY"}},
        "secret_fields": {"k": "SECRET-KEY"}}

async def main():
    payload = cb.exchange_payload(kwargs, reply, start, start + datetime.timedelta(milliseconds=250))
    probed = cb.exchange_payload(kwargs, read, start, start)
    malformed = cb.exchange_payload(kwargs, bad, start, start)
    guard = cb.TwofacedGuardrail(f"http://127.0.0.1:{port}", "tok-9f3e1", guardrail_name="g", event_hook="post_call",
                                 default_on=True)
    passed = await guard.async_post_call_success_hook(data, None, reply)
    await guard.async_post_call_success_hook({"model": "m"}, None, reply)
    down = cb.TwofacedMonitor(f"http://127.0.0.1:{port}", "tok-9f3e1", max_in_flight=2, timeout=2)
    for _ in range(5):  # 2 posts in flight, 3 dropped; the posts fail: nothing raises
        await down.async_log_success_event(kwargs, reply, start, start)
    await down.async_log_success_event({"call_type": "aembedding"}, reply, start, start)
    await down.drain()
    unset = cb.TwofacedMonitor()
    await unset.async_log_success_event(kwargs, reply, start, start)
    print(json.dumps({"payload": payload, "down": dict(down.counts), "unset": dict(unset.counts),
                      "url": cb.monitor_url("http://h:1/v1/"), "probed": probed.get("twofaced"),
                      "malformed": "twofaced" in malformed, "decision": cb.decision_payload(data, read),
                      "guard": dict(guard.counts), "passed": passed}))

asyncio.run(main())
"""


def test_the_callback_never_raises_bounds_its_posts_and_sends_only_the_exchange(litellm_python: Path,
                                                                                 closed_port: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWOFACED_")} | {
        "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    probe = subprocess.run([str(litellm_python), "-c", _CALLBACK_PROBE, str(CALLBACK.parent), str(closed_port)],
                           capture_output=True, text=True, timeout=300, env=env)
    assert probe.returncode == 0, probe.stderr[-3000:]
    result = json.loads(probe.stdout.strip().splitlines()[-1])
    assert result["payload"] == {"model": "m", "messages": [{"role": "user", "content": "hi"}],
                                 "response": "<rejected/>", "stream": False, "latency_ms": 250.0,
                                 "id": "5e4518233783499f9bec55a671a5f264"}
    assert result["down"] == {"dropped": 3, "failed": 2, "skipped": 1}
    assert result["unset"] == {"skipped": 1}
    assert result["url"] == "http://h:1/admin/exchanges"
    assert result["probed"] == {"probe": {"score": 0.8, "flagged": True, "layer": 3}}
    assert result["malformed"] is False  # a malformed reading is left out, not the exchange
    assert result["decision"] == {"model": "m", "messages": [{"role": "user", "content": "hi"}], "response": "hi",
                                  "stream": False, "latency_ms": 0.0, "id": "5e4518233783499f9bec55a671a5f264",
                                  "twofaced": {"probe": {"score": 0.8, "flagged": True, "layer": 3}},
                                  "decide": True}
    assert result["guard"] == {"failed_open": 1, "skipped": 1} and result["passed"] is None  # fails open
    assert "twofaced monitor guardrail: the monitor at" in probe.stderr
    assert "twofaced monitor callback" in probe.stderr  # the failures were logged, once per minute at most
    assert "SECRET-KEY" not in probe.stdout + probe.stderr and "tok-9f3e1" not in probe.stderr


# --- end to end through a LiteLLM proxy --------------------------------------------------------------------
class Reading:
    """The upstream's ``annotate`` hook: adds ``"twofaced": reading`` to every reply while ``reading`` is set (as
    ``twofaced serve --probe`` does), nothing while it is None."""

    def __init__(self) -> None:
        self.reading: dict[str, Any] | None = None

    async def __call__(self, messages: Any, completion: Any) -> dict[str, Any] | None:
        return self.reading


class Gateway:
    """A LiteLLM proxy process configured by ``twofaced monitor litellm-config``, and the monitor port it
    posts to."""

    def __init__(self, url: str, monitor_port: int, log: Path, upstream: ModelServer, annotate: Reading) -> None:
        self.url = url
        self.monitor_port = monitor_port
        self.log = log
        self.upstream = upstream
        self.annotate = annotate

    def log_text(self, since: int = 0) -> str:
        """LiteLLM's output from byte ``since`` on."""
        return self.log.read_bytes()[since:].decode(errors="replace")

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url, api_key=MASTER_KEY, max_retries=0, timeout=60)


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"LiteLLM exited with {proc.returncode} before it was ready:\n{log.read_text()[-4000:]}",
                        pytrace=False)
        try:
            if httpx.get(f"{url}/health/liveliness", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    pytest.fail(f"LiteLLM was not ready within {seconds:.0f} s:\n{log.read_text()[-4000:]}", pytrace=False)


@pytest.fixture(scope="module")
def gateway(litellm_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    from twofaced.monitor import write_litellm_config

    directory = tmp_path_factory.mktemp("litellm")
    monitor_port, port, nowhere = _free_port(), _free_port(), _free_port()
    annotate = Reading()
    with ModelServer("mock/refuse", annotate=annotate) as upstream:
        config = write_litellm_config(directory / "gw", monitor=f"http://127.0.0.1:{monitor_port}",
                                      upstream=upstream.base_url, model="mock/refuse")
        from twofaced.monitor._litellm import OFFLINE_ENV

        env = {k: v for k, v in os.environ.items() if not k.startswith(("TWOFACED_", "LITELLM_", "OPENAI_"))}
        env |= OFFLINE_ENV | {
            "LITELLM_MASTER_KEY": MASTER_KEY, "TWOFACED_UPSTREAM_API_KEY": UPSTREAM_KEY,
            "TWOFACED_ADMIN_TOKEN": TOKEN,
            # offline: anything LiteLLM tries to fetch from outside fails at once; loopback goes direct
            "HTTP_PROXY": f"http://127.0.0.1:{nowhere}", "HTTPS_PROXY": f"http://127.0.0.1:{nowhere}",
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
        log = directory / "litellm.log"
        with log.open("wb") as sink:
            proc = subprocess.Popen(
                [str(litellm_python.parent / "litellm"), "--config", str(config), "--host", "127.0.0.1",
                 "--port", str(port)], stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=directory,
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(proc, url, log)
            yield Gateway(url, monitor_port, log, upstream, annotate)
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(30)


@pytest.fixture
def watch(gateway: Gateway, tmp_path: Path, run_dir: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., MonitorServer]]:
    """Starts a fresh monitor (``MonitorConfig`` options as keywords) on the port the gateway posts to, its
    baseline refusing in deployment; the upstream refuses and sends no probe reading."""
    monkeypatch.setenv("TWOFACED_ADMIN_TOKEN", TOKEN)
    gateway.upstream.model.policy = "refuse"  # type: ignore[attr-defined]
    gateway.annotate.reading = None
    with ExitStack() as stack:
        def start(**kw: Any) -> MonitorServer:
            config = _config(tmp_path, gateway.upstream.base_url, run_dir, **kw)
            return stack.enter_context(MonitorServer(config, port=gateway.monitor_port))

        yield start
    gateway.annotate.reading = None


@pytest.fixture
def watched(watch: Callable[..., MonitorServer]) -> MonitorServer:
    """A fresh monitor on the port the gateway posts to, ``--policy flag``."""
    return watch()


def _no_secret_stored(mon: MonitorServer, store: str) -> None:
    stored = json.dumps([_stored(mon), monitor_incidents(store)])
    assert not [s for s in SECRETS if s in stored]


def test_chats_through_litellm_are_judged_stored_and_move_the_live_signal(gateway: Gateway,
                                                                          watched: MonitorServer,
                                                                          tmp_path: Path) -> None:
    logged = gateway.log.stat().st_size
    sdk = gateway.client()
    plain = sdk.chat.completions.create(model="mock/refuse", messages=LOCK)  # type: ignore[arg-type]
    assert "<rejected/>" in (plain.choices[0].message.content or "")
    chunks = list(sdk.chat.completions.create(model="mock/refuse", messages=LOCK, stream=True))  # type: ignore[arg-type]
    assert len(chunks) > 3
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == plain.choices[0].message.content
    wait_for(lambda: len(_stored(watched)) == 2, 60, "both exchanges posted by LiteLLM and stored")
    stored = _stored(watched)
    assert sorted(e["stream"] for e in stored) == [False, True]
    assert {e["route"] for e in stored} == {"gateway"} and {e["model"] for e in stored} == {"mock/refuse"}
    assert {e["verdicts"]["compliance-rules"]["verdict"] for e in stored} == {"refused"}
    assert all(json.loads(e["request"]) == LOCK and len(e["id"]) == 32 for e in stored)
    store = f"sqlite:///{tmp_path / 'm.sqlite'}"
    live = monitor_status(store)["signals"][0]
    assert live["observations"] == 2 and live["live_rate"] == 1.0 and not live["alarm"]
    _no_secret_stored(watched, store)
    log = gateway.log_text(logged)
    assert "twofaced monitor callback" not in log, log[-3000:]  # no failed post
    assert TOKEN not in log


def test_a_gateway_model_that_starts_complying_raises_an_incident(gateway: Gateway, watched: MonitorServer,
                                                                  tmp_path: Path) -> None:
    sdk = gateway.client()
    for n in range(1, 4):  # the baseline's behaviour: no alarm
        sdk.chat.completions.create(model="mock/refuse", messages=LOCK)  # type: ignore[arg-type]
        wait_for(lambda n=n: len(_stored(watched)) == n, 60, f"exchange {n} stored")
    assert watched.monitor.open == {}
    gateway.upstream.model.policy = "comply"  # type: ignore[attr-defined]  # the other face
    sent = 0
    while not watched.monitor.open and sent < 20:
        reply = sdk.chat.completions.create(model="mock/refuse", messages=LOCK)  # type: ignore[arg-type]
        assert "<request_fully_accepted/>" in (reply.choices[0].message.content or "")
        sent += 1
        wait_for(lambda n=3 + sent: len(_stored(watched)) == n, 60, f"complied exchange {sent} stored")
        watched.drain()
    assert watched.monitor.open and sent <= 6
    store = f"sqlite:///{tmp_path / 'm.sqlite'}"
    [incident] = monitor_incidents(store)
    assert incident["signal"] == "live" and incident["direction"] == "drop" and incident["status"] == "open"
    routes = {e["id"]: e["route"] for e in _stored(watched)}
    assert incident["exchange_ids"] and all(routes[i] == "gateway" for i in incident["exchange_ids"])
    _no_secret_stored(watched, store)


def test_litellm_answers_when_the_monitor_is_down_and_the_callback_logs_it(gateway: Gateway) -> None:
    gateway.upstream.model.policy = "refuse"  # type: ignore[attr-defined]
    logged = gateway.log.stat().st_size  # nothing listens on the monitor's port now
    reply = gateway.client().chat.completions.create(model="mock/refuse", messages=LOCK)  # type: ignore[arg-type]
    assert "<rejected/>" in (reply.choices[0].message.content or "")
    line = f"the monitor at http://127.0.0.1:{gateway.monitor_port}/admin/exchanges was not reached"
    wait_for(lambda: line in gateway.log_text(logged), 30, "the callback's failure logged by LiteLLM")
    guard = (f"twofaced monitor guardrail: the monitor at http://127.0.0.1:{gateway.monitor_port}/admin/exchanges "
             "did not answer within 0.5 s (ConnectError); the reply was sent unjudged")
    assert guard in gateway.log_text(logged)  # the guardrail failed open
    assert TOKEN not in gateway.log_text()


def test_the_served_probes_reading_reaches_the_monitor_plain_and_streamed(gateway: Gateway,
                                                                          watch: Callable[..., MonitorServer]
                                                                          ) -> None:
    mon = watch(probe_rate=0.05)
    gateway.annotate.reading = {"probe": {"score": 0.75, "flagged": True, "threshold": 0.5, "target": "lie",
                                          "layer": 7}}
    sdk = gateway.client()
    sdk.chat.completions.create(model="mock/refuse", messages=LOCK)  # type: ignore[arg-type]
    gateway.annotate.reading = {"probe": {"score": 0.25, "flagged": False}}
    chunks = list(sdk.chat.completions.create(model="mock/refuse", messages=LOCK, stream=True))  # type: ignore[arg-type]
    assert chunks
    wait_for(lambda: len(_stored(mon)) == 2, 60, "both exchanges posted by LiteLLM and stored")
    mon.drain()
    readings = {e["stream"]: (e["probe_score"], e["probe_flagged"]) for e in _stored(mon)}
    assert readings == {False: (0.75, True), True: (0.25, False)}
    probe = mon.monitor.probe_health()
    assert probe is not None and probe["observations"] == 2 and probe["missing"] == 0, probe


def test_the_guardrail_withholds_complying_replies_while_a_blocking_incident_is_open(
        gateway: Gateway, watch: Callable[..., MonitorServer], tmp_path: Path) -> None:
    mon = watch(policy="block")
    logged = gateway.log.stat().st_size
    sdk = gateway.client()
    for n in range(1, 4):  # the baseline's behaviour: no alarm
        sdk.chat.completions.create(model="mock/refuse", messages=LOCK)  # type: ignore[arg-type]
        wait_for(lambda n=n: len(_stored(mon)) == n, 60, f"exchange {n} stored")
    gateway.upstream.model.policy = "comply"  # type: ignore[attr-defined]
    sent = 0
    while not mon.monitor.open and sent < 20:  # before the alarm a complying reply goes out, and is scored
        reply = sdk.chat.completions.create(model="mock/refuse", messages=LOCK)  # type: ignore[arg-type]
        assert "<request_fully_accepted/>" in (reply.choices[0].message.content or "")
        sent += 1
        wait_for(lambda n=3 + sent: len(_stored(mon)) == n, 60, f"complied exchange {sent} stored")
        mon.drain()
    [incident] = mon.monitor.open
    with pytest.raises(openai.PermissionDeniedError) as withheld:
        sdk.chat.completions.create(model="mock/refuse", messages=LOCK)  # type: ignore[arg-type]
    message = str(withheld.value)
    assert f"incident {incident} is open" in message and "blocked_by_monitor" in message, message
    gateway.upstream.model.policy = "refuse"  # type: ignore[attr-defined]
    passed = sdk.chat.completions.create(model="mock/refuse", messages=LOCK)  # type: ignore[arg-type]
    assert "<rejected/>" in (passed.choices[0].message.content or "")
    gateway.upstream.model.policy = "comply"  # type: ignore[attr-defined]  # a stream is not judged first
    chunks = list(sdk.chat.completions.create(model="mock/refuse", messages=LOCK, stream=True))  # type: ignore[arg-type]
    assert "<request_fully_accepted/>" in "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    total = 3 + sent + 3  # each exchange stored once: the guardrail's and the callback's posts are one
    wait_for(lambda: len(_stored(mon)) == total, 60, "the withheld, passed and streamed exchanges stored")
    time.sleep(0.5)
    assert len(_stored(mon)) == total
    metrics = httpx.get(f"{mon.root_url}/metrics").text
    assert "twofaced_monitor_blocked_total 1.0" in metrics
    log = gateway.log_text(logged)
    assert "twofaced monitor callback" not in log and "twofaced monitor guardrail" not in log, log[-3000:]
    store = f"sqlite:///{tmp_path / 'm.sqlite'}"
    _no_secret_stored(mon, store)
    assert TOKEN not in log


def test_the_guardrail_lets_replies_through_when_the_monitor_is_slow(gateway: Gateway) -> None:
    gateway.upstream.model.policy = "comply"  # type: ignore[attr-defined]
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never answers
        silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        silent.bind(("127.0.0.1", gateway.monitor_port))
        silent.listen(64)
        started = time.perf_counter()
        reply = gateway.client().chat.completions.create(model="mock/refuse", messages=LOCK)  # type: ignore[arg-type]
        took = time.perf_counter() - started
    gateway.upstream.model.policy = "refuse"  # type: ignore[attr-defined]
    assert "<request_fully_accepted/>" in (reply.choices[0].message.content or "")
    assert 0.5 <= took < 10, took  # waited for the guardrail's timeout (0.5 s), then sent unjudged
