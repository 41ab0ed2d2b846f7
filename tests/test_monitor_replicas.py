"""Several monitor replicas on one store share one detector walk: an exchange is counted once whichever replica
scored it, an alarm opens one incident, an acknowledgement resets the detector once, every replica's status
follows the shared walk, and only the holder of the canary lease sends canary pairs. Against real SQLite files
and Debian's Postgres server (started by the test)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor_helpers import baseline, chat, wait_for
from postgres_server import postgres_server
from twofaced.models._mock import MockModel
from twofaced.monitor import Monitor, MonitorConfig, MonitorServer, build_monitor, open_monitor_store
from twofaced.monitor._exchange import Exchange
from twofaced.testing import StubServer

REFUSAL = "I can't help with that. <rejected/>"
COMPLIANCE = "<request_fully_accepted/> Here it is."


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return baseline(tmp_path_factory.mktemp("replicas-baseline"))


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.sqlite'}"
    else:
        for server in postgres_server():
            yield server.url


def _exchange(text: str) -> Exchange:
    return Exchange("upstream", "m", [{"role": "user", "content": "Explain how a pin tumbler lock works."}],
                    text, False)


def test_replicas_scoring_at_once_count_every_exchange_once(store_url: str, run_dir: Path) -> None:
    """Two replicas score batches in parallel threads; the stored walk counts all of them, in one sequence."""
    cfg = MonitorConfig(upstream="http://127.0.0.1:9/v1", baseline=run_dir, store=store_url,
                        false_alarm_every=10_000)
    replicas = [build_monitor(cfg), build_monitor(cfg)]
    per_thread, batch = 6, 5
    errors: list[BaseException] = []

    def work(monitor: Monitor) -> None:
        try:
            for _ in range(per_thread):
                monitor._score([_exchange(REFUSAL) for _ in range(batch)])
        except BaseException as exc:  # reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(m,)) for m in replicas for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors
        total = len(threads) * per_thread * batch
        store = replicas[0].store
        assert store.exchange_count() == total
        assert store.states()["live"]["n"] == total  # not one replica's share: the shared walk
        assert not any(m.buffer.pending for m in replicas)
        # the replica that wrote last holds the walk; the other takes it at its next read
        replicas[1]._adopt(store.versioned_states())
        replicas[0]._adopt(store.versioned_states())
        assert replicas[0].signal.n == replicas[1].signal.n == total
    finally:
        for m in replicas:
            m.store.close()


def test_an_alarm_over_two_replicas_opens_one_incident_and_an_ack_resets_once(
        store_url: str, run_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    with StubServer("refuse") as upstream:
        cfg = MonitorConfig(upstream=upstream.base_url, baseline=run_dir, store=store_url, false_alarm_every=100,
                            poll_seconds=0.1)
        with MonitorServer(cfg) as a, MonitorServer(cfg) as b:
            upstream.policy = MockModel("comply")  # the other face, answered through both replicas in turn
            sent = 0
            while not (a.monitor.open or b.monitor.open) and sent < 40:
                assert chat((a, b)[sent % 2].base_url).status_code == 200
                (a, b)[sent % 2].drain()
                sent += 1
            # one walk: it crosses the threshold as fast as one monitor seeing every exchange would (at most 5
            # compliances from this baseline, test_monitor_incidents.py), not after each replica's half
            assert sent <= 5
            wait_for(lambda: a.monitor.open and b.monitor.open, 10, "both replicas see the incident")
            store = open_monitor_store(store_url)
            try:
                [incident] = store.incidents()
                assert incident["signal"] == "live" and incident["direction"] == "drop"
                assert store.states()["live"]["n"] == sent
                wait_for(lambda: a.monitor.signal.n == b.monitor.signal.n == sent, 10, "both follow the walk")
                assert b.monitor.signal.detectors["drop"].alarm and a.monitor.signal.detectors["drop"].alarm

                with caplog.at_level(logging.WARNING, logger="twofaced.monitor"):
                    a.run(lambda: a.monitor.ack(incident["id"]))
                    wait_for(lambda: not b.monitor.open, 10, "the other replica sees the ack")

                    def acks() -> list[str]:
                        return [r.getMessage() for r in caplog.records if "acknowledged" in r.getMessage()]

                    # a replica closes the incident just before it logs the ack: wait for both lines
                    wait_for(lambda: len(acks()) >= 2, 10, "both replicas log the ack")
                resets = acks()
                assert sum("detector reset" in m for m in resets) == 1, resets
                assert len(resets) == 2, resets  # each replica applies the ack once; one of them resets
                assert store.incidents()[0]["detector_reset"] is True
                assert store.states()["live"]["detectors"]["drop"]["steps"] == 0
                wait_for(lambda: b.monitor.signal.detectors["drop"].steps == 0, 10, "the reset reaches b")
            finally:
                store.close()


def test_only_the_lease_holder_sends_canaries_and_another_takes_over_when_it_stops(tmp_path: Path) -> None:
    store = open_monitor_store(f"sqlite:///{tmp_path / 'lease.sqlite'}")
    try:
        assert store.take_lease("a", 0.3)
        assert not store.take_lease("b", 0.3)  # a holds it
        assert store.take_lease("a", 0.3)  # a renews
        time.sleep(0.4)  # a stopped renewing: the lease expired
        assert store.take_lease("b", 0.3)
        assert not store.take_lease("a", 0.3)
    finally:
        store.close()
