"""The monitor's store: exchanges, verdicts, detector state, incidents, alerts and counters, through SQLAlchemy
Core, so one URL picks SQLite (the default, one file) or Postgres (several replicas, one store).

Invariants:
- the schema is Alembic's: :func:`open_monitor_store` upgrades to head before anything is read or written
  (migrations in ``migrations/versions/``, applied programmatically, recorded in ``twofaced_monitor_alembic``);
  never edit an applied revision, add the next one;
- an exchange, its verdicts and the detector state after it are written in **one transaction**, so a restart
  never finds a detector that counted an exchange the store lost, or the reverse;
- a bad URL, a missing driver or an unreachable server is a :class:`ConfigError` naming the URL with its
  password hidden; nothing here writes request headers, so no Authorization value can reach the store;
- this module owns every SQL statement of the monitor.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from ..errors import ConfigError

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "twofaced_monitor_alembic"

_meta = sa.MetaData()
exchanges = sa.Table(
    "exchanges", _meta,
    sa.Column("id", sa.String(32), primary_key=True), sa.Column("created_at", sa.Float),
    sa.Column("route", sa.String(16)), sa.Column("model", sa.String(300)), sa.Column("stream", sa.Boolean),
    sa.Column("status", sa.Integer), sa.Column("latency_ms", sa.Float), sa.Column("redacted", sa.Boolean),
    sa.Column("request", sa.Text), sa.Column("response", sa.Text), sa.Column("request_sha256", sa.String(64)),
    sa.Column("harmful", sa.Boolean), sa.Column("canary", sa.Boolean), sa.Column("pair_id", sa.String(32)),
    sa.Column("condition", sa.String(16)), sa.Column("flagged", sa.Boolean),
    sa.Column("probe_score", sa.Float), sa.Column("probe_flagged", sa.Boolean),
)
verdicts = sa.Table(
    "verdicts", _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True), sa.Column("exchange_id", sa.String(32)),
    sa.Column("judge", sa.String(100)), sa.Column("version", sa.String(20)), sa.Column("verdict", sa.String(20)),
    sa.Column("rationale", sa.Text), sa.Column("created_at", sa.Float),
)
detector_state = sa.Table(
    "detector_state", _meta,
    sa.Column("signal", sa.String(50), primary_key=True), sa.Column("state", sa.Text),
    sa.Column("updated_at", sa.Float), sa.Column("version", sa.Integer),
)
incidents = sa.Table(
    "incidents", _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True), sa.Column("signal", sa.String(50)),
    sa.Column("direction", sa.String(20)), sa.Column("opened_at", sa.Float), sa.Column("status", sa.String(10)),
    sa.Column("acked_at", sa.Float), sa.Column("policy", sa.String(10)), sa.Column("summary", sa.Text),
    sa.Column("trace", sa.Text), sa.Column("exchange_ids", sa.Text), sa.Column("detector_reset", sa.Boolean),
)
alerts = sa.Table(
    "alerts", _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True), sa.Column("incident_id", sa.Integer),
    sa.Column("created_at", sa.Float), sa.Column("signal", sa.String(50)), sa.Column("message", sa.Text),
)
counters = sa.Table(
    "counters", _meta, sa.Column("name", sa.String(50), primary_key=True), sa.Column("value", sa.BigInteger),
)
locks = sa.Table(
    "monitor_locks", _meta, sa.Column("name", sa.String(20), primary_key=True),
    sa.Column("holder", sa.String(64)), sa.Column("expires_at", sa.Float),
)
WALK, CANARY_LEASE = "walk", "canary"  # the rows of monitor_locks (migration 0004)

Scored = list[tuple[dict[str, Any], list[dict[str, Any]]]]  # exchange rows, each with its verdict rows
States = list[tuple[str, dict[str, Any]]]  # (signal, JSON state)
Versioned = dict[str, tuple[int, dict[str, Any]]]  # signal -> (version, JSON state)


class Walk:
    """What :meth:`MonitorStore.walk` hands its step, inside the transaction that holds the walk lock: the stored
    states of the signals asked for, and :meth:`claim_reset`."""

    def __init__(self, conn: sa.Connection, stored: Versioned) -> None:
        self._conn = conn
        self.stored = stored

    def claim_reset(self, incident_id: int) -> bool:
        """Whether this replica resets the detector of an acknowledged incident: True for exactly one caller per
        incident (the first), in the transaction that writes the reset state."""
        return bool(self._conn.execute(
            incidents.update().where(incidents.c.id == incident_id, incidents.c.detector_reset.is_(False))
            .values(detector_reset=True)).rowcount)


def _shown(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _url(text: str) -> URL:
    try:
        url = make_url(text)
    except ArgumentError:
        raise ConfigError(f"--store {text!r} is not a database URL; give sqlite:///PATH or "
                          "postgresql://USER@HOST:PORT/DB") from None
    if url.drivername == "postgresql":  # SQLAlchemy's default Postgres driver is psycopg2; the extra ships psycopg 3
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(f"--store {_shown(url)}: the monitor store is SQLite or Postgres; give sqlite:///PATH or "
                          "postgresql://USER@HOST:PORT/DB")
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def upgrade(engine: Engine) -> None:
    """Apply every Alembic revision not yet applied (programmatically: no alembic.ini, no env.py)."""
    from alembic.config import Config
    from alembic.runtime.environment import EnvironmentContext
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(config)

    def steps(rev: Any, _context: Any) -> Any:
        return script._upgrade_revs("head", rev)

    with engine.begin() as conn:
        env = EnvironmentContext(config, script, fn=steps)
        env.configure(connection=conn, version_table=VERSION_TABLE)
        with env.begin_transaction():
            env.run_migrations()


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class MonitorStore:
    """One engine on the monitor's database. Made by :func:`open_monitor_store`; call :meth:`close` when done.

    Methods are synchronous (SQLAlchemy's engine); the server calls them from a worker thread, off the event
    loop."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.url = _shown(engine.url)

    def close(self) -> None:
        self.engine.dispose()

    # --- exchanges -------------------------------------------------------------------------------------------
    def add_exchange(self, exchange: dict[str, Any], verdict_rows: list[dict[str, Any]],
                     state: tuple[str, dict[str, Any]] | None) -> None:
        """One scored exchange, its verdicts and (``state``: signal, JSON state) the detector after it, at once."""
        self.add_exchanges([(exchange, verdict_rows)], [] if state is None else [state])

    def add_exchanges(self, scored: list[tuple[dict[str, Any], list[dict[str, Any]]]],
                      states: list[tuple[str, dict[str, Any]]]) -> None:
        """Exchanges with their verdicts (a canary pair: both halves; the scoring worker's batch) and the states of
        every signal they moved, in one transaction. The rows go in one executemany per table: every exchange row
        has the same keys (``_exchange.rows``), and so has every verdict row."""
        with self.engine.begin() as conn:
            self._insert(conn, scored)
            for signal, state in states:
                self._put_state(conn, signal, state)

    @staticmethod
    def _insert(conn: sa.Connection, scored: Scored) -> None:
        if scored:
            conn.execute(exchanges.insert(), [exchange for exchange, _ in scored])
            verdict_rows = [{"exchange_id": exchange["id"], **v} for exchange, vs in scored for v in vs]
            if verdict_rows:
                conn.execute(verdicts.insert(), verdict_rows)

    def walk(self, names: list[str], step: Callable[[Walk], tuple[Scored, States]]) -> dict[str, int]:
        """One step of the shared detector walk, in one transaction: take the walk lock (replicas sharing this
        store update their signals one at a time), read the stored states of ``names`` with their versions, let
        ``step`` update the signals from them (it returns the exchanges it scored and the states after them),
        write those, and return each written state's new version.

        The lock is the ``walk`` row of ``monitor_locks``, taken by an UPDATE: a row lock until commit on Postgres;
        on SQLite the transaction begins IMMEDIATE (the write lock first, so no other writer can slip in between
        the read and the write)."""
        with self.engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            conn.execute(locks.update().where(locks.c.name == WALK).values(expires_at=time.time()))
            stored = {r.signal: (int(r.version or 0), json.loads(r.state)) for r in conn.execute(
                sa.select(detector_state).where(detector_state.c.signal.in_(names)))}
            scored, states = step(Walk(conn, stored))
            self._insert(conn, scored)
            return {signal: self._put_state(conn, signal, state) for signal, state in states}

    def exchanges(self, limit: int = 100, *, flagged: bool = False) -> list[dict[str, Any]]:
        """The newest exchanges first (``flagged``: only those flagged), each with its verdicts under
        ``verdicts``."""
        query = sa.select(exchanges).order_by(exchanges.c.created_at.desc()).limit(limit)
        if flagged:
            query = query.where(exchanges.c.flagged.is_(True))
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query)]
            by_id = {r["id"]: r for r in rows}
            for r in rows:
                r["verdicts"] = {}
            if by_id:
                for v in conn.execute(sa.select(verdicts).where(verdicts.c.exchange_id.in_(list(by_id)))):
                    by_id[v.exchange_id]["verdicts"][v.judge] = {"verdict": v.verdict, "rationale": v.rationale,
                                                                 "version": v.version}
        return rows

    def exchange_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(exchanges)).scalar_one())

    # --- detector state --------------------------------------------------------------------------------------
    @staticmethod
    def _put_state(conn: sa.Connection, signal: str, state: dict[str, Any]) -> int:
        """Write a signal's state and bump its version; returns the new version."""
        values = {"state": json.dumps(state), "updated_at": time.time()}
        version = conn.execute(detector_state.update().where(detector_state.c.signal == signal)
                               .values(version=detector_state.c.version + 1, **values)
                               .returning(detector_state.c.version)).scalar()
        if version is None:
            conn.execute(detector_state.insert().values(signal=signal, version=1, **values))
            return 1
        return int(version)

    def save_state(self, signal: str, state: dict[str, Any]) -> int:
        """Write one state outside the walk (a new walk at start-up, a buffered state); returns its version."""
        with self.engine.begin() as conn:
            return self._put_state(conn, signal, state)

    def states(self) -> dict[str, dict[str, Any]]:
        return {name: state for name, (_, state) in self.versioned_states().items()}

    def versioned_states(self) -> Versioned:
        with self.engine.connect() as conn:
            return {r.signal: (int(r.version or 0), json.loads(r.state))
                    for r in conn.execute(sa.select(detector_state))}

    # --- the canary lease ------------------------------------------------------------------------------------
    def take_lease(self, holder: str, seconds: float) -> bool:
        """Hold (or renew) the canary lease for ``seconds``: True when ``holder`` has it now. Replicas sharing a
        store send canary pairs only while they hold it, so the pairs come at the configured rate whatever the
        number of replicas; a replica that dies loses it when it expires."""
        now = time.time()
        with self.engine.begin() as conn:
            return bool(conn.execute(
                locks.update().where(locks.c.name == CANARY_LEASE,
                                     sa.or_(locks.c.holder == holder, locks.c.holder.is_(None),
                                            locks.c.expires_at < now))
                .values(holder=holder, expires_at=now + seconds)).rowcount)

    # --- incidents and alerts --------------------------------------------------------------------------------
    def open_incident(self, *, signal: str, direction: str, policy: str, summary: dict[str, Any],
                      trace: list[dict[str, Any]], exchange_ids: list[str], message: str) -> int:
        """The incident and its alert in one transaction; returns the incident id."""
        now = time.time()
        with self.engine.begin() as conn:
            result = conn.execute(incidents.insert().values(
                signal=signal, direction=direction, opened_at=now, status="open", acked_at=None, policy=policy,
                detector_reset=False,
                summary=json.dumps(summary), trace=json.dumps(trace), exchange_ids=json.dumps(exchange_ids)))
            key = result.inserted_primary_key
            assert key is not None
            incident_id = int(key[0])
            conn.execute(alerts.insert().values(incident_id=incident_id, created_at=now, signal=signal,
                                                message=message))
        return incident_id

    def incidents(self, status: str | None = None) -> list[dict[str, Any]]:
        """Incidents, newest first (``status``: "open" or "acked" to filter), with their evidence decoded."""
        query = sa.select(incidents).order_by(incidents.c.id.desc())
        if status is not None:
            query = query.where(incidents.c.status == status)
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query)]
        for r in rows:
            for key in ("summary", "trace", "exchange_ids"):
                r[key] = _loads(r[key])
        return rows

    def ack(self, incident_id: int) -> dict[str, Any]:
        """Mark an incident acknowledged (again is a no-op); ConfigError for an unknown id."""
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(incidents.c.status).where(incidents.c.id == incident_id)).first()
            if row is None:
                raise ConfigError(f"no incident {incident_id} in the store; 'twofaced monitor incidents' lists them")
            if row.status == "open":
                conn.execute(incidents.update().where(incidents.c.id == incident_id)
                             .values(status="acked", acked_at=time.time()))
        return next(i for i in self.incidents() if i["id"] == incident_id)

    def alerts(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(alerts).order_by(alerts.c.id))]

    # --- counters --------------------------------------------------------------------------------------------
    def add_counts(self, deltas: dict[str, int]) -> None:
        with self.engine.begin() as conn:
            for name, delta in deltas.items():
                if delta and conn.execute(counters.update().where(counters.c.name == name)
                                          .values(value=counters.c.value + delta)).rowcount == 0:
                    conn.execute(counters.insert().values(name=name, value=delta))

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {r.name: int(r.value) for r in conn.execute(sa.select(counters))}


def open_monitor_store(url: str, *, create: bool = True) -> MonitorStore:
    """Connect to the store at ``url`` and bring its schema to head. ``create=False`` (the read commands)
    refuses a SQLite file that does not exist instead of making an empty store.

        store = open_monitor_store("sqlite:///monitor.sqlite")
    """
    parsed = _url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        if not create and not path.exists():
            raise ConfigError(f"--store {url}: no monitor store there; give the URL 'twofaced monitor serve' used")
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # a server that does not answer fails a write in seconds (then it is buffered) instead of holding it
        connect_args = {"connect_timeout": 5} if parsed.get_backend_name() == "postgresql" else {}
        engine = sa.create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise ConfigError(f"--store {_shown(parsed)}: its database driver is not installed ({exc}); "
                          "pip install 'twofaced[monitor]'") from None
    if parsed.get_backend_name() == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    try:
        upgrade(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(getattr(exc, "orig", exc)) else \
            type(exc).__name__
        raise ConfigError(f"--store {_shown(parsed)}: cannot open the monitor store: {reason}") from None
    return MonitorStore(engine)
