"""The monitor under failure, with real parts: a Postgres server stopped with ``pg_ctl`` mid-traffic (writes are
buffered and all arrive once it is back; past ``--store-buffer`` the oldest are dropped and counted), a monitor
subprocess killed with SIGKILL and restarted on the same SQLite file (stored exchanges, detector state and the
open incident come back), and a bounded load on loopback (every 200 is stored or counted unscored).

Upstream down or slow (502, 504) and malformed or oversized requests (400, 413) are in test_monitor_proxy.py."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from monitor_helpers import LOCK, baseline, chat, wait_for
from postgres_server import Postgres, postgres_server
from twofaced.models._mock import MockModel
from twofaced.monitor import MonitorConfig, MonitorServer, open_monitor_store
from twofaced.testing import StubServer


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return baseline(tmp_path_factory.mktemp("reliability-baseline"))


@pytest.fixture
def postgres() -> Iterator[Postgres]:
    yield from postgres_server()


def _metric(root_url: str, name: str) -> float:
    text = httpx.get(f"{root_url}/metrics", timeout=10).text
    found = re.search(rf"^twofaced_monitor_{name} (\S+)$", text, re.M)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


def test_writes_made_while_postgres_is_down_are_buffered_and_all_arrive(postgres: Postgres, run_dir: Path) -> None:
    with StubServer("refuse") as upstream:
        cfg = MonitorConfig(upstream=upstream.base_url, baseline=run_dir, store=postgres.url, false_alarm_every=100)
        with MonitorServer(cfg) as mon:
            for _ in range(3):
                assert chat(mon.base_url).status_code == 200
            mon.drain()
            postgres.stop()
            for _ in range(20):  # traffic goes on: every reply is served and scored
                assert chat(mon.base_url).status_code == 200
            mon.drain()
            assert _metric(mon.root_url, "store_buffered") == 20
            assert _metric(mon.root_url, "store_failures_total") >= 1
            assert mon.monitor.signal.n == 23  # the detectors counted them all
            assert httpx.get(f"{mon.root_url}/healthz").json()["status"] == "ok"
            postgres.start()
            wait_for(lambda: _metric(mon.root_url, "store_buffered") == 0, 60, "the buffer drained")
            assert _metric(mon.root_url, "store_dropped_total") == 0
            assert mon.monitor.store.exchange_count() == 23
            assert mon.monitor.store.states()["live"]["n"] == 23  # the state after the newest exchange
            assert chat(mon.base_url).status_code == 200  # and writing goes on directly
            mon.drain()
            assert mon.monitor.store.exchange_count() == 24


def test_past_the_store_buffer_the_oldest_are_dropped_logged_and_counted(
        postgres: Postgres, run_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    with StubServer("refuse") as upstream:
        cfg = MonitorConfig(upstream=upstream.base_url, baseline=run_dir, store=postgres.url, false_alarm_every=100,
                            store_buffer=5)
        with MonitorServer(cfg) as mon:
            postgres.stop()
            for _ in range(8):
                assert chat(mon.base_url).status_code == 200
            mon.drain()
            assert _metric(mon.root_url, "store_buffered") == 5
            assert _metric(mon.root_url, "store_dropped_total") == 3
            dropped = [r.getMessage() for r in caplog.records if "store buffer full" in r.getMessage()]
            assert len(dropped) == 3 and all("NOT stored; exchange ids: " in m for m in dropped)
            postgres.start()
            wait_for(lambda: _metric(mon.root_url, "store_buffered") == 0, 60, "the buffer drained")
            stored = {e["id"] for e in mon.monitor.store.exchanges()}
            assert len(stored) == 5
            assert not any(m.rsplit(": ", 1)[1] in stored for m in dropped)  # the three oldest went
        store = open_monitor_store(postgres.url)
        try:
            assert store.counts().get("store_dropped") == 3  # written by the stop, for `monitor status` readers
            assert store.states()["live"]["n"] == 8
        finally:
            store.close()


def _serve(run_dir: Path, store: str, upstream: str) -> tuple[subprocess.Popen[str], str]:
    """`twofaced monitor serve` as a child process; returns it and its base URL once it listens."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "twofaced.cli", "monitor", "serve", "--upstream", upstream, "--baseline",
         str(run_dir), "--store", store, "--false-alarm-every", "100", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "TWOFACED_ADMIN_TOKEN": "t0ken"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    line = proc.stdout.readline()  # type: ignore[union-attr]
    assert " at http://127.0.0.1:" in line, line
    return proc, line.rsplit(" at ", 1)[1].strip()


def _admin_status(base_url: str) -> dict[str, object]:
    root = base_url.removesuffix("/v1")
    return httpx.get(f"{root}/admin/status", headers={"Authorization": "Bearer t0ken"}, timeout=10).json()


def test_kill_9_and_restart_keeps_every_stored_exchange_the_detectors_and_the_incident(
        tmp_path: Path, run_dir: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.sqlite'}"
    with StubServer("refuse") as upstream:
        proc, base = _serve(run_dir, url, upstream.base_url)
        try:
            for _ in range(3):
                assert chat(base).status_code == 200
            upstream.policy = MockModel("comply")  # the baseline refused: complying now raises an incident
            for _ in range(4):
                assert chat(base).status_code == 200
            store = open_monitor_store(url, create=False)
            wait_for(lambda: store.exchange_count() == 7 and bool(store.incidents("open")), 30, "7 stored")
            before, incidents = store.states(), store.incidents("open")
            store.close()
            proc.send_signal(signal.SIGKILL)
            assert proc.wait(30) == -signal.SIGKILL
        finally:
            if proc.poll() is None:
                proc.kill()
        store = open_monitor_store(url, create=False)
        try:
            assert store.exchange_count() == 7 and store.states() == before
        finally:
            store.close()
        proc, base = _serve(run_dir, url, upstream.base_url)
        try:
            status = _admin_status(base)
            live = status["signals"][0]  # type: ignore[index]
            assert live["observations"] == 7 and live["alarm"]
            assert status["incidents_open"] == [i["id"] for i in incidents]
            assert chat(base).status_code == 200
            wait_for(lambda: _admin_status(base)["signals"][0]["observations"] == 8, 30,  # type: ignore[index]
                     "the walk went on")
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
    store = open_monitor_store(url, create=False)
    try:
        assert store.exchange_count() == 8 and len(store.incidents()) == 1
    finally:
        store.close()


async def _load(url: str, requests: int, concurrency: int) -> list[int]:
    """``requests`` chat completions through the monitor, ``concurrency`` at a time; their status codes."""
    statuses: list[int] = []
    body = {"model": "mock/refuse", "messages": LOCK}
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=concurrency)) as client:
        async def one_after_another(n: int) -> None:
            for _ in range(n):
                statuses.append((await client.post(f"{url}/chat/completions", json=body)).status_code)

        share, extra = divmod(requests, concurrency)
        await asyncio.gather(*(one_after_another(share + (k < extra)) for k in range(concurrency)))
    return statuses


def test_a_bounded_load_on_loopback_loses_no_record(tmp_path: Path, run_dir: Path) -> None:
    requests = 2000
    with StubServer("refuse") as upstream:
        cfg = MonitorConfig(upstream=upstream.base_url, baseline=run_dir, store=f"sqlite:///{tmp_path / 'l.sqlite'}",
                            false_alarm_every=1000, queue_size=200)
        with MonitorServer(cfg) as mon:
            statuses = asyncio.run(_load(mon.base_url, requests, 20))
            mon.drain(120)
            stored = mon.monitor.store.exchange_count()
            unscored = mon.monitor.unscored
            scored = _metric(mon.root_url, "exchanges_scored_total")
            assert _metric(mon.root_url, "store_dropped_total") == 0
    assert len(statuses) == requests and statuses.count(200) == requests
    assert stored + unscored == requests  # every 200 is stored or counted, exactly
    assert scored == stored


def test_a_bad_store_buffer_is_one_line(tmp_path: Path, run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from helpers import cli

    code, _, err = cli(capsys, "monitor", "serve", "--upstream", "http://127.0.0.1:9/v1", "--baseline", str(run_dir),
                       "--store", f"sqlite:///{tmp_path / 'b.sqlite'}", "--store-buffer", "0")
    assert code != 0 and err.count("\n") == 1 and "--store-buffer must be at least 1" in err
