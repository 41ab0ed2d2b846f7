"""`twofaced monitor serve` as a proxy: the openai SDK through it (plain and streaming), models, health, metrics,
OpenAI-style errors (400, 413, 502, 504), the admin token, the unscored count when the queue is full, redaction.
Real parts on loopback: `twofaced serve` / the stub server as the upstream, a real SQLite store."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from monitor_helpers import LOCK, baseline, chat
from twofaced.monitor import MonitorConfig, MonitorServer, monitor_status, open_monitor_store
from twofaced.serve import ModelServer
from twofaced.testing import StubServer


@pytest.fixture(scope="module")
def refuser() -> Iterator[ModelServer]:
    with ModelServer("mock/refuse") as server:
        yield server


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return baseline(tmp_path_factory.mktemp("monitor-baseline"))


def config(tmp_path: Path, upstream: str, run_dir: Path, **kw: object) -> MonitorConfig:
    return MonitorConfig(upstream=upstream, baseline=run_dir, store=f"sqlite:///{tmp_path / 'm.sqlite'}",
                         false_alarm_every=1000, **kw)  # type: ignore[arg-type]


def test_the_sdk_works_through_the_monitor_plain_and_streaming(tmp_path: Path, refuser: ModelServer,
                                                               run_dir: Path) -> None:
    with MonitorServer(config(tmp_path, refuser.base_url, run_dir)) as mon:
        sdk = openai.OpenAI(base_url=mon.base_url, api_key="client-secret", max_retries=0)
        assert [m.id for m in sdk.models.list()] == ["mock/refuse"]
        plain = sdk.chat.completions.create(model="mock/refuse", messages=LOCK)  # type: ignore[arg-type]
        assert "<rejected/>" in (plain.choices[0].message.content or "")
        chunks = list(sdk.chat.completions.create(model="mock/refuse", messages=LOCK, stream=True))  # type: ignore[arg-type]
        assert len(chunks) > 3
        streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert streamed == plain.choices[0].message.content
        health = httpx.get(f"{mon.root_url}/healthz").json()
        assert health["status"] == "ok" and health["route"] == "upstream"
        mon.drain()
        metrics = httpx.get(f"{mon.root_url}/metrics").text
        assert "twofaced_monitor_exchanges_scored_total 2.0" in metrics
        stored = mon.monitor.store.exchanges()
    assert sorted(e["stream"] for e in stored) == [False, True]
    assert {e["verdicts"]["compliance-rules"]["verdict"] for e in stored} == {"refused"}
    assert all("client-secret" not in json.dumps(e) for e in stored)
    status = monitor_status(f"sqlite:///{tmp_path / 'm.sqlite'}")
    live = status["signals"][0]
    assert live["observations"] == 2 and live["live_rate"] == 1.0 and not live["alarm"]
    assert live["baseline_rate"] == pytest.approx(6.5 / 7)


def test_malformed_oversized_and_upstream_failures_get_openai_style_errors(tmp_path: Path, run_dir: Path,
                                                                           closed_port: int) -> None:
    with StubServer("refuse", delay=2.0) as slow:
        cfg = config(tmp_path, slow.base_url, run_dir, max_body=400, upstream_timeout=0.3)
        with MonitorServer(cfg) as mon:
            bad = httpx.post(f"{mon.base_url}/chat/completions", content=b"{not json", timeout=10)
            assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_json"
            empty = httpx.post(f"{mon.base_url}/chat/completions", json={"model": "m"}, timeout=10)
            assert empty.status_code == 400 and empty.json()["error"]["param"] == "messages"
            big = chat(mon.base_url, [{"role": "user", "content": "x" * 1000}])
            assert big.status_code == 413 and big.json()["error"]["code"] == "request_too_large"
            late = chat(mon.base_url)
            assert late.status_code == 504 and late.json()["error"]["code"] == "upstream_timeout"
            assert httpx.get(f"{mon.root_url}/healthz").status_code == 200
    down = MonitorConfig(upstream=f"http://127.0.0.1:{closed_port}/v1", baseline=run_dir,
                         store=f"sqlite:///{tmp_path / 'd.sqlite'}")
    with MonitorServer(down) as mon:
        gone = chat(mon.base_url)
        assert gone.status_code == 502 and gone.json()["error"]["code"] == "upstream_unavailable"
        assert httpx.get(f"{mon.root_url}/healthz").json()["status"] == "ok"


def test_the_admin_api_needs_the_token(tmp_path: Path, refuser: ModelServer, run_dir: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    with MonitorServer(config(tmp_path, refuser.base_url, run_dir)) as mon:
        off = httpx.get(f"{mon.root_url}/admin/status")
        assert off.status_code == 403 and "TWOFACED_ADMIN_TOKEN" in off.json()["error"]["message"]
    monkeypatch.setenv("TWOFACED_ADMIN_TOKEN", "s3cret")
    with MonitorServer(config(tmp_path, refuser.base_url, run_dir)) as mon:
        assert httpx.get(f"{mon.root_url}/admin/status").status_code == 401
        wrong = httpx.get(f"{mon.root_url}/admin/status", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"] == "Bearer"
        ok = httpx.get(f"{mon.root_url}/admin/status", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and ok.json()["signals"][0]["signal"] == "live"
        assert httpx.post(f"{mon.root_url}/admin/incidents/7/ack").status_code == 401
        missing = httpx.post(f"{mon.root_url}/admin/incidents/7/ack", headers={"Authorization": "Bearer s3cret"})
        assert missing.status_code == 404


def test_a_full_queue_counts_unscored_exchanges_and_never_blocks(tmp_path: Path, refuser: ModelServer,
                                                                 run_dir: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from twofaced.monitor import _runtime

    monkeypatch.setattr(_runtime, "SCORE_WINDOW", 0.0)  # the worker takes one exchange and holds it
    release = threading.Event()
    with MonitorServer(config(tmp_path, refuser.base_url, run_dir, queue_size=1)) as mon:
        score = mon.monitor._score

        def slow(exchange):  # type: ignore[no-untyped-def]
            release.wait(20)
            return score(exchange)

        mon.monitor._score = slow  # type: ignore[method-assign]
        answers = [chat(mon.base_url) for _ in range(5)]  # 1 being scored, 1 queued, 3 unscored
        assert [a.status_code for a in answers] == [200] * 5
        assert httpx.get(f"{mon.root_url}/healthz").json()["unscored"] == 3
        assert "twofaced_monitor_exchanges_unscored_total 3.0" in httpx.get(f"{mon.root_url}/metrics").text
        release.set()
        mon.drain()
    status = monitor_status(f"sqlite:///{tmp_path / 'm.sqlite'}")
    assert status["unscored"] == 3 and status["exchanges"] == 2


def test_redaction_stores_hashes_and_verdicts(tmp_path: Path, refuser: ModelServer, run_dir: Path) -> None:
    with MonitorServer(config(tmp_path, refuser.base_url, run_dir, redact=True)) as mon:
        assert chat(mon.base_url).status_code == 200
        mon.drain()
    store = open_monitor_store(f"sqlite:///{tmp_path / 'm.sqlite'}", create=False)
    try:
        [row] = store.exchanges()
    finally:
        store.close()
    assert row["redacted"] and row["request"].startswith("sha256:") and row["response"].startswith("sha256:")
    assert "pin tumbler" not in json.dumps(row)
    assert row["verdicts"]["compliance-rules"]["verdict"] == "refused"
