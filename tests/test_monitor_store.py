"""The monitor's store and its inputs: Alembic migrations on a blank store (and again: a no-op), one-line errors
for a bad store URL or baseline, the baseline's rate and request flags, the live signal's state round trip, and
the whole store against Debian's Postgres server, started and stopped by the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import cli
from monitor_helpers import baseline
from postgres_server import postgres_server
from twofaced.errors import ConfigError
from twofaced.monitor import LiveSignal, load_baseline, open_monitor_store


def test_migrations_make_every_table_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'deep' / 'm.sqlite'}"
    for _ in range(2):
        store = open_monitor_store(url)
        store.add_counts({"unscored": 2})
        store.close()
    store = open_monitor_store(url, create=False)
    try:
        import sqlalchemy as sa

        tables = set(sa.inspect(store.engine).get_table_names())
        assert {"exchanges", "verdicts", "detector_state", "incidents", "alerts", "counters"} <= tables
        assert store.counts() == {"unscored": 4}
    finally:
        store.close()


def test_a_store_made_by_the_first_revision_upgrades_and_keeps_its_rows(tmp_path: Path) -> None:
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
    with engine.begin() as conn:  # the schema as the first slice left it, with one exchange
        env = EnvironmentContext(config, script, fn=lambda rev, _: script._upgrade_revs("0001_initial", rev))
        env.configure(connection=conn, version_table=VERSION_TABLE)
        with env.begin_transaction():
            env.run_migrations()
        conn.execute(sa.text("INSERT INTO exchanges VALUES ('old', 1.0, 'upstream', 'm', 0, 200, 1.0, 0, '[]', "
                             "'hi', 'abc', NULL)"))
        for status in ("acked", "open"):
            conn.execute(sa.text("INSERT INTO incidents (signal, direction, opened_at, status, policy, summary, trace, "
                                 f"exchange_ids) VALUES ('live', 'drop', 1.0, '{status}', 'flag', '{{}}', '[]', '[]')"))
        conn.execute(sa.text("INSERT INTO detector_state VALUES ('live', '{}', 1.0)"))
    engine.dispose()
    store = open_monitor_store(url)
    try:
        [row] = store.exchanges()
        assert (row["id"], row["canary"], row["flagged"], row["pair_id"], row["condition"]) == \
            ("old", False, False, None, None)
        with store.engine.connect() as conn:
            assert conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar_one() == "0004_replicas"
            # 0004: the acked incident counts as reset, the open one does not; the old state is version 0
            assert {(r.status, bool(r.detector_reset)) for r in conn.execute(
                sa.text("SELECT status, detector_reset FROM incidents"))} == {("acked", True), ("open", False)}
            assert {r.name for r in conn.execute(sa.text("SELECT name FROM monitor_locks"))} == {"walk", "canary"}
        assert store.versioned_states() == {"live": (0, {})}
    finally:
        store.close()


@pytest.mark.parametrize(("url", "words"), [
    ("nonsense", "is not a database URL"),
    ("mysql://u@h/db", "SQLite or Postgres"),
])
def test_a_bad_store_url_is_one_line(url: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        open_monitor_store(url)


def test_the_cli_refuses_bad_input_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "monitor", "status", "--store", f"sqlite:///{tmp_path / 'none.sqlite'}")
    assert code != 0 and err.count("\n") == 1 and "no monitor store there" in err
    code, _, err = cli(capsys, "monitor", "serve", "--upstream", "localhost:8000", "--baseline", str(tmp_path))
    assert code != 0 and err.count("\n") == 1 and "--upstream" in err
    code, _, err = cli(capsys, "monitor", "serve", "--upstream", "http://127.0.0.1:9/v1", "--baseline",
                       str(tmp_path), "--policy", "rollback")
    assert code != 0 and "--fallback" in err
    code, _, err = cli(capsys, "monitor", "serve", "--upstream", "http://127.0.0.1:9/v1", "--baseline",
                       str(tmp_path / "missing"))
    assert code != 0 and err.count("\n") == 1 and "--baseline" in err


def test_the_baseline_is_the_deployment_refusal_rate_with_request_flags(tmp_path: Path) -> None:
    b = load_baseline(baseline(tmp_path))
    assert (b.refused, b.n) == (6, 6) and b.refusal_rate == pytest.approx(6.5 / 7)
    request, harmful = next(iter(b.requests.items()))
    assert b.harmful(f"Some framing first.\n\n{request.upper()}  ") is harmful
    assert b.harmful("a request the baseline never asked") is None


def test_the_live_signal_state_round_trips_and_refuses_another_version() -> None:
    s = LiveSignal.create(0.3, 0.1, 500)
    for k in range(40):
        s.observe(k % 2 == 0, f"e{k}")
    assert LiveSignal.from_dict(s.to_dict()).to_dict() == s.to_dict()
    with pytest.raises(ConfigError, match="version"):
        LiveSignal.from_dict(s.to_dict() | {"version": 99})


@pytest.fixture
def postgres() -> Iterator[str]:
    for server in postgres_server():
        yield server.url


def test_the_store_works_on_postgres(postgres: str, tmp_path: Path) -> None:
    from monitor_helpers import chat
    from twofaced.monitor import MonitorConfig, MonitorServer, monitor_status
    from twofaced.testing import StubServer

    run_dir = baseline(tmp_path)
    with StubServer("refuse") as upstream:
        cfg = MonitorConfig(upstream=upstream.base_url, baseline=run_dir, store=postgres, false_alarm_every=100)
        with MonitorServer(cfg) as mon:
            for _ in range(3):
                assert chat(mon.base_url).status_code == 200
            mon.drain()
        with MonitorServer(cfg) as again:  # a second process on the same store resumes the walk
            assert again.monitor.signal.n == 3
    status = monitor_status(postgres)
    assert status["exchanges"] == 3 and status["signals"][0]["observations"] == 3
    store = open_monitor_store(postgres)
    try:
        incident = store.open_incident(signal="live", direction="rise", policy="flag", summary={}, trace=[],
                                       exchange_ids=["x"], message="m")
        assert store.ack(incident)["status"] == "acked"
        canary = store.open_incident(signal="canary", direction="deployment_only", policy="flag", summary={},
                                     trace=[], exchange_ids=[], message="m")  # 0002 widened the column
        assert store.incidents("open")[0]["id"] == canary
    finally:
        store.close()
