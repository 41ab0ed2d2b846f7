"""Detection and response end to end: an upstream that starts complying where its baseline refused raises an
incident with its evidence; rollback routes to the fallback until `twofaced monitor ack`; block withholds
replies; the webhook gets the alarm; detector state and incidents survive a restart on the same SQLite file."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers import cli
from monitor_helpers import baseline, chat
from twofaced.models._mock import MockModel
from twofaced.monitor import MonitorConfig, MonitorServer, monitor_incidents
from twofaced.testing import StubServer


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return baseline(tmp_path_factory.mktemp("monitor-baseline"))


@pytest.fixture
def hook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A webhook receiver on loopback that keeps every JSON body it is sent."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def _wait(condition: Any, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_a_model_that_starts_complying_raises_an_incident_and_rollback_holds_until_ack(
        tmp_path: Path, run_dir: Path, hook: tuple[str, list[dict[str, Any]]],
        capsys: pytest.CaptureFixture[str]) -> None:
    url, received = hook
    store = f"sqlite:///{tmp_path / 'm.sqlite'}"
    with StubServer("refuse") as primary, StubServer("refuse") as fallback:
        cfg = MonitorConfig(upstream=primary.base_url, baseline=run_dir, fallback=fallback.base_url, store=store,
                            policy="rollback", webhook=url, false_alarm_every=100, poll_seconds=0.1)
        with MonitorServer(cfg) as mon:
            for _ in range(5):  # the baseline's behaviour: no alarm
                assert chat(mon.base_url).status_code == 200
            mon.drain()
            assert mon.monitor.open == {}
            primary.policy = MockModel("comply")  # the other face
            sent = 0
            while not mon.monitor.open and sent < 20:
                assert chat(mon.base_url).status_code == 200
                sent += 1
                mon.drain()
            assert mon.monitor.open and sent <= 5
            [incident] = monitor_incidents(store)
            assert incident["direction"] == "drop" and incident["status"] == "open"
            assert len(incident["exchange_ids"]) == sent and incident["trace"][-1]["statistic"] >= \
                incident["summary"]["detectors"]["drop"]["threshold"]
            _wait(lambda: len(received) == 1)
            assert received[0]["incident"] == incident["id"] and received[0]["direction"] == "drop"
            assert "twofaced_monitor_alarms_total{direction=\"drop\",signal=\"live\"} 1.0" in \
                httpx.get(f"{mon.root_url}/metrics").text

            before = primary.requests, fallback.requests
            assert "<rejected/>" in chat(mon.base_url).json()["choices"][0]["message"]["content"]
            assert (primary.requests, fallback.requests) == (before[0], before[1] + 1)
            assert httpx.get(f"{mon.root_url}/healthz").json()["route"] == "fallback"

            code, out, _ = cli(capsys, "monitor", "status", "--store", store, "--json")
            assert code == 0 and json.loads(out)["signals"][0]["detectors"]["drop"]["alarm"]
            code, out, _ = cli(capsys, "monitor", "ack", str(incident["id"]), "--store", store)
            assert code == 0 and "acknowledged" in out
            _wait(lambda: not mon.monitor.rolled_back)
            assert mon.monitor.signal.detectors["drop"].steps == 0  # the ack reset the detector
            chat(mon.base_url)
            assert primary.requests == before[0] + 1
        code, out, _ = cli(capsys, "monitor", "incidents", "--store", store, "--json")
        assert code == 0 and json.loads(out)[0]["status"] == "acked"


def test_block_withholds_failing_replies_while_an_incident_is_open(tmp_path: Path, run_dir: Path,
                                                                    closed_port: int) -> None:
    with StubServer("comply") as upstream:
        cfg = MonitorConfig(upstream=upstream.base_url, baseline=run_dir, store=f"sqlite:///{tmp_path / 'b.sqlite'}",
                            policy="block", webhook=f"http://127.0.0.1:{closed_port}/hook", false_alarm_every=100)
        with MonitorServer(cfg) as mon:
            codes = []
            for _ in range(6):
                codes.append(chat(mon.base_url).status_code)
                mon.drain()
            assert codes[:3] == [200] * 3 and codes[-1] == 403
            blocked = chat(mon.base_url).json()["error"]
            assert blocked["code"] == "blocked_by_monitor"
            metrics = httpx.get(f"{mon.root_url}/metrics").text
            assert "twofaced_monitor_webhook_failures_total 1.0" in metrics  # logged and counted, not raised
            [incident_id] = mon.monitor.open
            mon.run(lambda: mon.monitor.ack(incident_id))
            assert chat(mon.base_url).status_code == 200


def test_detector_state_and_incidents_survive_a_restart(tmp_path: Path, run_dir: Path) -> None:
    store = f"sqlite:///{tmp_path / 'r.sqlite'}"
    with StubServer("refuse") as upstream:
        cfg = MonitorConfig(upstream=upstream.base_url, baseline=run_dir, store=store, false_alarm_every=100)
        with MonitorServer(cfg) as mon:
            for _ in range(3):
                chat(mon.base_url)
            upstream.policy = MockModel("comply")
            for _ in range(4):
                chat(mon.base_url)
            mon.drain()
            before = mon.monitor.signal.to_dict()
            opened = sorted(mon.monitor.open)
        assert opened and before["n"] == 7
        with MonitorServer(cfg) as again:
            assert again.monitor.signal.to_dict() == before
            assert sorted(again.monitor.open) == opened
            chat(again.base_url)
            again.drain()
            assert again.monitor.signal.n == 8
            assert len(monitor_incidents(store)) == 1  # still in alarm: no second incident for the same excursion
