"""The probe signal end to end on loopback: a real `twofaced serve` app (mock/comply) whose `annotate` hook adds a
probe reading to every reply, plain and streamed, behind a real monitor with a SQLite store. Readings are stored
with their exchanges and counted; a probe that flags every exchange against `--probe-rate 0.05` opens a `probe`
incident; one that flags at 0.05 opens none; the walk survives a restart; an upstream that sends no reading is
said in /healthz and `monitor status`; a bad `--probe-rate` is one line; a store made at revision 0002 upgrades.
Also: the scoring worker's batches raise an alarm at the same exchange as one at a time, in one transaction."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers import cli
from monitor_helpers import LOCK, chat, steady_baseline
from twofaced.models import Completion, Message
from twofaced.monitor import MonitorConfig, MonitorServer, monitor_incidents, monitor_status, open_monitor_store
from twofaced.monitor._exchange import Exchange
from twofaced.monitor._probe_signal import ProbeReading, ProbeSignal, probe_reading
from twofaced.monitor._proxy import StreamText, read_reply
from twofaced.serve import ModelServer

MODEL = "mock/comply"
TOKEN = "probe-admin"
FALSE_ALARM_EVERY = 1000  # the live signal stays quiet for 80+ complied exchanges against a complying baseline


class Flagger:
    """The served probe: flags the k-th exchange it scores when k is a multiple of ``every`` (1: all of them;
    20: a flag rate of exactly 0.05), with score 0.9 when flagged and 0.1 otherwise."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.count = 0

    async def __call__(self, messages: list[Message], completion: Completion) -> dict[str, Any]:
        self.count += 1
        flagged = self.count % self.every == 0
        return {"probe": {"score": 0.9 if flagged else 0.1, "flagged": flagged, "threshold": 0.5,
                          "target": "deception", "layer": 3}}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """mock/comply's own run: a baseline its live traffic matches (refusal rate 0.5 / 7)."""
    return steady_baseline(tmp_path_factory.mktemp("probe-baseline"), "comply")


@pytest.fixture
def admin(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("TWOFACED_ADMIN_TOKEN", TOKEN)
    return {"Authorization": f"Bearer {TOKEN}"}


def _config(upstream: str, run_dir: Path, store: str, probe_rate: float | None = 0.05) -> MonitorConfig:
    return MonitorConfig(upstream=upstream, baseline=run_dir, store=store, false_alarm_every=FALSE_ALARM_EVERY,
                         probe_rate=probe_rate)


def _served(flagger: Flagger | None) -> ModelServer:
    return ModelServer(MODEL, annotate=flagger)


def _send(mon: MonitorServer, k: int) -> httpx.Response:
    """The k-th exchange of a test: odd ones streamed, even ones plain."""
    response = chat(mon.base_url, model=MODEL, stream=k % 2 == 1)
    assert response.status_code == 200
    return response


def _alarm_at() -> int:
    """At which flagged exchange in a row the probe signal of these tests alarms, one exchange at a time."""
    single = ProbeSignal.create(0.05, 0.1, FALSE_ALARM_EVERY)
    return next(k for k in range(1, 100) if single.observe(ProbeReading(0.9, True), f"e{k}"))


def _metric(root_url: str, line: str) -> bool:
    return line in httpx.get(f"{root_url}/metrics", timeout=10).text.splitlines()


def test_probe_readings_are_stored_and_counted_plain_and_streamed(tmp_path: Path, run_dir: Path,
                                                                  admin: dict[str, str],
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    store = f"sqlite:///{tmp_path / 'p.sqlite'}"
    with _served(Flagger(every=2)) as upstream, MonitorServer(_config(upstream.base_url, run_dir, store)) as mon:
        plain = _send(mon, 0)  # the upstream's 1st: not flagged
        assert plain.json()["twofaced"]["probe"]["flagged"] is False  # the field reaches the client unchanged
        streamed = _send(mon, 1)  # its 2nd: flagged, on the final chunk
        assert '"twofaced"' in streamed.text.split("finish_reason")[-1]  # on the final chunk
        mon.drain()
        stored = {e["stream"]: e for e in mon.monitor.store.exchanges()}
        assert (stored[False]["probe_score"], stored[False]["probe_flagged"]) == (0.1, False)
        assert (stored[True]["probe_score"], stored[True]["probe_flagged"]) == (0.9, True)
        probe = mon.monitor.probe
        assert probe is not None and (probe.n, probe.flagged, probe.missing) == (2, 1, 0)
        assert httpx.get(f"{mon.root_url}/healthz").json()["probe"] == {"observations": 2, "missing": 0}
        signals = {s["signal"]: s for s in httpx.get(f"{mon.root_url}/admin/status", headers=admin).json()["signals"]}
        assert signals["probe"]["observations"] == 2 and signals["probe"]["live_rate"] == 0.5
        assert signals["probe"]["probe"] == {"target": "deception", "layer": 3, "threshold": 0.5}
        assert _metric(mon.root_url, 'twofaced_monitor_probe_exchanges_total{flagged="true"} 1.0')
        assert _metric(mon.root_url, 'twofaced_monitor_probe_exchanges_total{flagged="false"} 1.0')
        assert 'twofaced_monitor_cusum_threshold{direction="rise",signal="probe"}' in \
            httpx.get(f"{mon.root_url}/metrics").text
        page = httpx.get(f"{mon.root_url}/dashboard", headers=admin).text
        assert 'id="signal-probe"' in page and "probe of deception, layer 3" in page
    code, out, _ = cli(capsys, "monitor", "status", "--store", store, "--json")
    [probe_status] = [s for s in json.loads(out)["signals"] if s["signal"] == "probe"]
    assert code == 0 and probe_status["observations"] == 2 and probe_status["mean_score"] == pytest.approx(0.5)
    code, out, _ = cli(capsys, "monitor", "status", "--store", store)
    assert code == 0 and "signal probe: flagged by the served probe" in out and "mean score 0.500" in out


def test_a_probe_that_flags_more_than_before_deployment_opens_a_probe_incident(tmp_path: Path,
                                                                               run_dir: Path) -> None:
    store = f"sqlite:///{tmp_path / 'p.sqlite'}"
    with _served(Flagger(every=1)) as upstream, MonitorServer(_config(upstream.base_url, run_dir, store)) as mon:
        sent = 0
        while not mon.monitor.open and sent < 20:
            _send(mon, sent)
            sent += 1
            mon.drain()
        probe = mon.monitor.probe
        assert probe is not None and probe.detectors["rise"].alarm
        ids = [e["id"] for e in sorted(mon.monitor.store.exchanges(), key=lambda e: e["created_at"])]
        assert _metric(mon.root_url, 'twofaced_monitor_alarms_total{direction="rise",signal="probe"} 1.0')
    [incident] = monitor_incidents(store)
    assert (incident["signal"], incident["direction"], incident["status"]) == ("probe", "rise", "open")
    assert sent == _alarm_at() > 1 and incident["exchange_ids"] == ids  # every flagged exchange of the excursion
    assert [t["score"] for t in incident["trace"]] == [0.9] * sent
    assert incident["summary"]["model"] == MODEL and incident["summary"]["detectors"]["rise"]["alarm"]


def test_a_probe_at_its_pre_deployment_rate_opens_no_incident(tmp_path: Path, run_dir: Path) -> None:
    store = f"sqlite:///{tmp_path / 'p.sqlite'}"
    with _served(Flagger(every=20)) as upstream, MonitorServer(_config(upstream.base_url, run_dir, store)) as mon:
        for k in range(60):
            _send(mon, k)
        mon.drain()
        probe = mon.monitor.probe
        assert probe is not None and (probe.n, probe.flagged) == (60, 3)
        assert mon.monitor.open == {} and monitor_incidents(store) == []


def test_the_probe_walk_survives_a_restart(tmp_path: Path, run_dir: Path, admin: dict[str, str]) -> None:
    store = f"sqlite:///{tmp_path / 'p.sqlite'}"
    with _served(Flagger(every=1)) as upstream:
        cfg = _config(upstream.base_url, run_dir, store)
        with MonitorServer(cfg) as mon:
            _send(mon, 0)
            mon.drain()
            probe = mon.monitor.probe
            assert probe is not None and not probe.detectors["rise"].alarm
            before = probe.to_dict()
        with MonitorServer(cfg) as again:
            probe = again.monitor.probe
            assert probe is not None and probe.to_dict() == before
            sent = 0
            while not again.monitor.open and sent < 20:
                _send(again, sent)
                sent += 1
                again.drain()
        assert sent == _alarm_at() - 1  # the walk went on from where it stopped
        with MonitorServer(_config(upstream.base_url, run_dir, store, probe_rate=None)) as off:
            _send(off, 0)
            off.drain()
            signals = {s["signal"]: s for s in
                       httpx.get(f"{off.root_url}/admin/status", headers=admin).json()["signals"]}
            assert "probe" not in httpx.get(f"{off.root_url}/healthz").json()
    [incident] = monitor_incidents(store)
    assert incident["signal"] == "probe" and len(incident["exchange_ids"]) == 1 + sent  # one walk over the restart
    # without --probe-rate the last walk is shown, not changed; the reading is still stored
    assert signals["probe"]["enabled"] is False and signals["probe"]["observations"] == 1 + sent
    reopened = open_monitor_store(store)
    try:
        assert reopened.exchanges(1)[0]["probe_score"] == 0.9
    finally:
        reopened.close()


def test_a_probe_rate_for_an_upstream_without_a_probe_is_said(tmp_path: Path, run_dir: Path, admin: dict[str, str],
                                                              caplog: pytest.LogCaptureFixture) -> None:
    store = f"sqlite:///{tmp_path / 'p.sqlite'}"
    caplog.set_level(logging.WARNING, "twofaced.monitor")
    with _served(None) as upstream, MonitorServer(_config(upstream.base_url, run_dir, store)) as mon:
        for k in range(3):
            _send(mon, k)
        mon.drain()
        health = httpx.get(f"{mon.root_url}/healthz").json()["probe"]
        assert (health["observations"], health["missing"]) == (0, 3) and "--probe-rate" in health["warning"]
        assert 'id="no-probe"' in httpx.get(f"{mon.root_url}/dashboard", headers=admin).text
        assert _metric(mon.root_url, 'twofaced_monitor_probe_exchanges_total{flagged="missing"} 3.0')
    said = [r.getMessage() for r in caplog.records if "carried no probe reading" in r.getMessage()]
    assert len(said) == 1  # once, not per exchange
    [probe] = [s for s in monitor_status(store)["signals"] if s["signal"] == "probe"]
    assert (probe["observations"], probe["missing"], probe["live_rate"]) == (0, 3, None)


@pytest.mark.parametrize("rate", ["0", "1", "5", "-0.1", "nan"])
def test_a_bad_probe_rate_is_one_line(tmp_path: Path, run_dir: Path, rate: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "monitor", "serve", "--upstream", "http://127.0.0.1:9/v1", "--baseline", str(run_dir),
                       "--store", f"sqlite:///{tmp_path / 'p.sqlite'}", f"--probe-rate={rate}")
    assert code != 0 and err.count("\n") == 1 and "--probe-rate" in err and "between 0 and 1" in err
    if rate == "5":
        assert "write 0.05 for 5%" in err


def test_a_store_made_at_revision_0002_upgrades_and_keeps_its_rows(tmp_path: Path) -> None:
    import sqlalchemy as sa
    from alembic.config import Config
    from alembic.runtime.environment import EnvironmentContext
    from alembic.script import ScriptDirectory

    from twofaced.monitor._store import MIGRATIONS, VERSION_TABLE

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = sa.create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(config)
    with engine.begin() as conn:  # the schema as revision 0002 left it, with one exchange
        env = EnvironmentContext(config, script, fn=lambda rev, _: script._upgrade_revs("0002_canary", rev))
        env.configure(connection=conn, version_table=VERSION_TABLE)
        with env.begin_transaction():
            env.run_migrations()
        conn.execute(sa.text("INSERT INTO exchanges (id, created_at, route, model, stream, status, latency_ms, "
                             "redacted, request, response, request_sha256, harmful, canary, flagged) VALUES "
                             "('old', 1.0, 'upstream', 'm', 0, 200, 1.0, 0, '[]', 'hi', 'abc', NULL, 0, 0)"))
    engine.dispose()
    store = open_monitor_store(url)
    try:
        [row] = store.exchanges()
        assert (row["id"], row["probe_score"], row["probe_flagged"]) == ("old", None, None)
        with store.engine.connect() as conn:
            assert conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar_one() == "0004_replicas"
    finally:
        store.close()


def test_the_worker_scores_a_batch_in_order_and_stores_it_in_one_transaction(tmp_path: Path, run_dir: Path) -> None:
    """Twelve exchanges queued at once are one batch: the alarm fires at the 4th flagged one, exactly as when
    each is scored alone (the test above), and the batch is one commit, the incident another."""
    import sqlalchemy as sa

    store = f"sqlite:///{tmp_path / 'p.sqlite'}"
    with MonitorServer(_config("http://127.0.0.1:9/v1", run_dir, store)) as mon:
        commits: list[int] = []
        sa.event.listen(mon.monitor.store.engine, "commit", lambda _conn: commits.append(1))
        batch = [Exchange("upstream", MODEL, LOCK, "Sure, here is how.", False, probe=ProbeReading(0.9, True))
                 for _ in range(12)]

        async def submit_all() -> None:  # no await in between: the worker wakes to find all twelve queued
            assert all(mon.monitor.submit(e) for e in batch)

        mon.run(submit_all)
        mon.drain()  # the worker raises the batch's alarms before it marks the batch done
        probe = mon.monitor.probe
        assert probe is not None and probe.n == 12 and mon.monitor.store.exchange_count() == 12
        assert mon.monitor.store.states()["probe"]["n"] == 12
        assert len(commits) == 2
    [incident] = monitor_incidents(store)
    assert incident["exchange_ids"] == [e.id for e in batch[:_alarm_at()]]


def test_readings_are_read_from_plain_bodies_and_from_streams_cut_anywhere() -> None:
    field = {"probe": {"score": 0.75, "flagged": True, "threshold": 0.5, "target": "lie", "layer": 7}}
    body = {"choices": [{"message": {"role": "assistant", "content": "hi"}}], "twofaced": field}
    assert read_reply(json.dumps(body).encode()) == ("hi", ProbeReading(0.75, True, 0.5, "lie", 7))
    assert read_reply(json.dumps({**body, "twofaced": None}).encode()) == ("hi", None)
    chunks = [{"choices": [{"delta": {"content": "h"}, "finish_reason": None}]},
              {"choices": [{"delta": {"content": "i"}, "finish_reason": "stop"}], "twofaced": field}]
    sse = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
    for cut in range(1, len(sse)):
        collected = StreamText()
        collected.feed(sse[:cut])
        collected.feed(sse[cut:])
        assert (collected.text, collected.probe, collected.done) == ("hi", ProbeReading(0.75, True, 0.5, "lie", 7),
                                                                     True)
    for bad in ({"probe": {"score": "high", "flagged": True}}, {"probe": {"score": 0.2, "flagged": 1}},
                {"probe": {"score": float("inf"), "flagged": False}}, {"probe": []}, "x", None):
        assert probe_reading(bad) is None


def test_a_gateway_posts_the_reading_with_its_exchange(tmp_path: Path, run_dir: Path, admin: dict[str, str]) -> None:
    store = f"sqlite:///{tmp_path / 'p.sqlite'}"
    body: dict[str, Any] = {"messages": LOCK, "response": "Sure.", "model": MODEL,
                            "twofaced": {"probe": {"score": 0.8, "flagged": True}}}
    with MonitorServer(_config("http://127.0.0.1:9/v1", run_dir, store)) as mon:
        posted = httpx.post(f"{mon.root_url}/admin/exchanges", json=body, headers=admin)
        assert posted.status_code == 202
        bad = httpx.post(f"{mon.root_url}/admin/exchanges", json=body | {"twofaced": {"probe": {"score": 1}}},
                         headers=admin)
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "twofaced"
        mon.drain()
        probe = mon.monitor.probe
        assert probe is not None and (probe.n, probe.flagged) == (1, 1)
        [row] = mon.monitor.store.exchanges()
    assert (row["route"], row["probe_score"], row["probe_flagged"]) == ("gateway", 0.8, True)

