"""One SQLite file per run directory (``DIR/run.sqlite``, WAL): the only state a run has.

Storage model and the invariants every writer keeps:
- ``items`` holds every work item, keyed by the content hash of what determines its output; inserting an
  item that exists is a no-op, so re-expanding the same command never duplicates work.
- An item becomes ``done`` in the same transaction that inserts its completion and first verdict, so a kill
  at any moment leaves each item either done-with-completion or not done; ``completions.item_id`` is a primary
  key, so an item completes at most once.
- Failed attempts append to ``errors`` (type, message, traceback) and leave the item ``failed``; a later run
  retries it. Nothing is ever deleted.
- ``meta`` pins what a directory is for (scenario name and hash, model, generation parameters); a command
  with other inputs is refused rather than mixed in.
- Schema changes are ordered, named migrations recorded in ``_migrations`` and applied once by
  :func:`open_store`; never edit an applied migration, add a new one.

This module holds every SQL statement of the package: the engine writes and every reader (records, summary,
``judge run``, the report) reads through :class:`Store` methods, never through ``Store.conn``. A read method
returns plain Python values (JSON columns already decoded), so a schema change stays inside this file.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Self

from ..errors import RunDirError

DB_NAME = "run.sqlite"

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_initial",
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE invocations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            started_at REAL NOT NULL,
            finished_at REAL,
            status TEXT NOT NULL DEFAULT 'running',
            argv TEXT NOT NULL,
            manifest TEXT NOT NULL
        );
        CREATE TABLE items (
            id TEXT PRIMARY KEY,
            seq INTEGER NOT NULL,
            model_spec TEXT NOT NULL,
            condition TEXT NOT NULL,
            ablation TEXT,
            request_id TEXT NOT NULL,
            category TEXT NOT NULL,
            harmful INTEGER NOT NULL,
            sample INTEGER NOT NULL,
            messages TEXT NOT NULL,
            params TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL
        );
        CREATE INDEX items_status ON items(status, seq);
        CREATE TABLE completions (
            item_id TEXT PRIMARY KEY REFERENCES items(id),
            text TEXT NOT NULL,
            turns TEXT NOT NULL,
            finish_reason TEXT NOT NULL,
            prompt_tokens INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            latency_s REAL NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE TABLE errors (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            item_id TEXT NOT NULL REFERENCES items(id),
            attempt INTEGER NOT NULL,
            type TEXT NOT NULL,
            message TEXT NOT NULL,
            traceback TEXT,
            created_at REAL NOT NULL
        );
        CREATE TABLE verdicts (
            item_id TEXT NOT NULL REFERENCES items(id),
            judge TEXT NOT NULL,
            judge_version TEXT NOT NULL,
            verdict TEXT NOT NULL,
            score REAL,
            rationale TEXT,
            created_at REAL NOT NULL,
            PRIMARY KEY (item_id, judge, judge_version)
        );
        """,
    ),
    (
        # Judges beyond the rules: the judge model is part of a verdict's identity, so re-judging a run with
        # another judge model keeps both; items keep the raw request text for judges that need it.
        "0002_judge_model_and_request_text",
        """
        ALTER TABLE items ADD COLUMN request TEXT;
        CREATE TABLE verdicts_v2 (
            item_id TEXT NOT NULL REFERENCES items(id),
            judge TEXT NOT NULL,
            judge_version TEXT NOT NULL,
            judge_model TEXT NOT NULL DEFAULT '',
            verdict TEXT NOT NULL,
            score REAL,
            rationale TEXT,
            created_at REAL NOT NULL,
            PRIMARY KEY (item_id, judge, judge_version, judge_model)
        );
        INSERT INTO verdicts_v2 (item_id, judge, judge_version, judge_model, verdict, score, rationale, created_at)
            SELECT item_id, judge, judge_version, '', verdict, score, rationale, created_at FROM verdicts;
        DROP TABLE verdicts;
        ALTER TABLE verdicts_v2 RENAME TO verdicts;
        CREATE INDEX verdicts_judge ON verdicts(judge, verdict)
        """,
    ),
    (
        # `twofaced awareness --out DIR`: every probe answer, keyed by the content hash of what was asked (model,
        # probe version, generation parameters, transcript, sample), so a re-run asks only what is missing.
        "0003_awareness_probes",
        """
        CREATE TABLE probe_answers (
            key TEXT PRIMARY KEY,
            transcript_id TEXT NOT NULL,
            source TEXT NOT NULL,
            label INTEGER NOT NULL,
            sample INTEGER NOT NULL,
            score REAL,
            read_as TEXT NOT NULL,
            reply TEXT NOT NULL,
            created_at REAL NOT NULL
        )
        """,
    ),
    (
        # The whole conversation of an item: every turn after its prompt messages (which ``items.messages``
        # holds) exactly as sent and received, and why the loop stopped. NULL in completions written before.
        # A directory that already holds a run was run under the first continuation rule: say so in ``meta``,
        # so resuming it under the current rule is refused instead of mixing items of two rules.
        "0004_conversation",
        """
        ALTER TABLE completions ADD COLUMN conversation TEXT;
        ALTER TABLE completions ADD COLUMN stop_reason TEXT;
        INSERT OR IGNORE INTO meta (key, value)
            SELECT 'continuation_rule', '1' WHERE EXISTS (SELECT 1 FROM meta WHERE key = 'scenario_hash')
        """,
    ),
]


_INSERT_VERDICT = (
    "INSERT OR REPLACE INTO verdicts (item_id, judge, judge_version, judge_model, verdict, score, rationale,"
    " created_at) VALUES (?,?,?,?,?,?,?,?)"
)


@dataclass(frozen=True, slots=True)
class ItemRow:
    """A work item as the engine needs it back from the store."""

    id: str
    seq: int
    condition: str
    ablation: str | None
    request_id: str
    messages: list[dict[str, str]]
    params: dict[str, Any]
    attempts: int


@dataclass(frozen=True, slots=True)
class VerdictRow:
    """One stored verdict of a judge on an item (without the item id)."""

    judge: str
    version: str
    judge_model: str
    verdict: str
    score: float | None
    rationale: str | None
    created_at: float


class ItemCompletion(NamedTuple):
    """An item joined with its completion, as :meth:`Store.items_with_completions` yields it. For an item with
    no completion, ``text`` and ``finish_reason`` are None, ``turns`` is empty and the token counts are 0.
    ``request`` is None in directories made before migration 0002 (the caller takes the user turn of
    ``messages``, which is the raw JSON column)."""

    id: str
    seq: int
    model_spec: str
    condition: str
    ablation: str | None
    request_id: str
    category: str
    harmful: bool
    sample: int
    request: str | None
    messages: str
    status: str
    text: str | None
    turns: list[str]
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    stop_reason: str | None = None  # None without a completion, or in completions stored before 0004


class ItemConversation(NamedTuple):
    """One item's prompt and conversation, as :meth:`Store.conversations` returns it. ``messages`` is the prompt
    as sent (decoded ``items.messages``); ``conversation`` the turns after it, None for a completion stored before
    migration 0004 (the caller rebuilds it from ``turns``) or for an item with no completion (``turns`` empty).
    ``error`` is the (type, message) of the item's latest failed attempt, if any."""

    id: str
    model_spec: str
    condition: str
    ablation: str | None
    request_id: str
    sample: int
    status: str
    attempts: int
    messages: list[dict[str, str]]
    params: dict[str, Any]
    turns: list[str]
    conversation: list[dict[str, str]] | None
    finish_reason: str | None
    stop_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    error: tuple[str, str] | None


class Invocation(NamedTuple):
    """One command that ran into the directory (``run``, a resume, an import), oldest first."""

    id: int
    started_at: float
    finished_at: float | None
    status: str
    argv: list[str]
    manifest: dict[str, Any]


class ItemDetail(NamedTuple):
    """What an export adds to :class:`ItemCompletion`: the item's generation parameters, attempts, latency (None
    without a completion) and its most recent failed attempt (None if it never failed)."""

    params: dict[str, Any]
    attempts: int
    latency_s: float | None
    error_type: str | None
    error_message: str | None


class ProbeAnswer(NamedTuple):
    """One stored awareness probe answer (``twofaced awareness --out DIR``); ``score`` None = unreadable."""

    key: str
    transcript_id: str
    source: str
    label: int
    sample: int
    score: float | None
    read_as: str
    reply: str


class JudgeUsage(NamedTuple):
    """How often one judge (name, version, judge model) has judged the run's items."""

    judge: str
    version: str
    judge_model: str
    verdicts: int
    errors: int
    last_used: float


@dataclass(slots=True)
class Success:
    item_id: str
    text: str
    turns: list[str]
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    verdicts: list[tuple[str, str, str, float | None, str]]  # judge, version, verdict, score, rationale
    # Every turn after the item's prompt messages, as sent and received ({"role", "content"}, and "prefill" on
    # a prefilled assistant turn); None where the writer has none (an import), and why the loop stopped.
    conversation: list[dict[str, str]] | None = None
    stop_reason: str | None = None


@dataclass(slots=True)
class Failure:
    item_id: str
    type: str
    message: str
    traceback: str | None


def _connect(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL survives a killed process (the WAL is on disk before commit returns to SQLite's view);
        # only an OS crash can lose the last commits, never corrupt the file.
        conn.execute("PRAGMA synchronous=NORMAL")
        # Checkpoint every ~1 MB of WAL rather than SQLite's 4 MB: during a run the checkpoints then happen in
        # the engine's store thread, off the event loop, and closing the store has less left to copy.
        conn.execute("PRAGMA wal_autocheckpoint=256")
        conn.execute("PRAGMA foreign_keys=ON")
    except sqlite3.DatabaseError as exc:
        raise RunDirError(f"{path} is not a twofaced run store ({exc}); use another --out directory") from exc
    return conn


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply pending migrations in order, each in its own transaction; return the names applied."""
    conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    done = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
    applied = []
    for name, sql in MIGRATIONS:
        if name in done:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in (s.strip() for s in sql.split(";")):
                if statement:
                    conn.execute(statement)
            conn.execute("INSERT INTO _migrations VALUES (?, ?)", (name, time.time()))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied


class Store:
    """The run store of one directory. Open with :func:`open_store`; call :meth:`close` when done, or use it as a
    context manager: ``with open_store(d, create=False) as store: records = load_records(store)``.

    ``conn`` is the store's own connection; code outside this module calls methods instead of sending SQL.
    """

    def __init__(self, directory: Path, conn: sqlite3.Connection) -> None:
        self.directory = directory
        self.conn = conn

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close()

    # -- identity --------------------------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT key, value FROM meta").fetchall())

    def claim(self, identity: dict[str, str]) -> None:
        """Pin this directory to ``identity``, or refuse if it already holds a run with other inputs."""
        current = self.meta()
        for key, value in identity.items():
            if key in current and current[key] != value:
                raise RunDirError(
                    f"{self.directory} holds a run with {key}={_short(current[key])}, not {_short(value)}; "
                    "use another --out directory (runs are never mixed)"
                )
        missing = [(k, v) for k, v in identity.items() if k not in current]
        if missing:  # a new directory, or one made before a key existed
            with self.transaction():
                self.conn.executemany("INSERT INTO meta VALUES (?, ?)", missing)

    # -- writes ----------------------------------------------------------------------------------------
    def transaction(self) -> _Transaction:
        return _Transaction(self.conn)

    def add_items(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Insert items (id, seq, model_spec, condition, ablation, request_id, category, harmful, sample,
        messages_json, params_json, request_text); existing ids are left untouched."""
        now = time.time()
        with self.transaction():
            self.conn.executemany(
                "INSERT OR IGNORE INTO items (id, seq, model_spec, condition, ablation, request_id, category,"
                " harmful, sample, messages, params, request, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                ((*r, now) for r in rows),
            )

    def record(self, successes: Sequence[Success], failures: Sequence[Failure]) -> None:
        """Persist a batch of outcomes atomically (see the module invariants).

        One statement per kind of row (``executemany``), not three per item: a success for an item that
        already has a completion (from an earlier batch or run, or earlier in this batch) is dropped whole,
        verdicts included; a failure marks its item ``failed`` unless it is done, and its error row gets the
        item's attempt count after that update.
        """
        if not successes and not failures:
            return
        now = time.time()
        with self.transaction():
            c = self.conn
            if successes:
                seen = self._completed([s.item_id for s in successes])
                fresh = []
                for s in successes:
                    if s.item_id not in seen:  # else already completed: keep the first completion
                        seen.add(s.item_id)
                        fresh.append(s)
                c.executemany(
                    "INSERT OR IGNORE INTO completions (item_id, text, turns, finish_reason, prompt_tokens,"
                    " completion_tokens, latency_s, created_at, conversation, stop_reason)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?)",
                    [(s.item_id, s.text, json.dumps(s.turns), s.finish_reason, s.prompt_tokens,
                      s.completion_tokens, s.latency_s, now,
                      None if s.conversation is None else json.dumps(s.conversation), s.stop_reason)
                     for s in fresh],
                )
                c.executemany("UPDATE items SET status='done', attempts=attempts+1 WHERE id=?",
                              [(s.item_id,) for s in fresh])
                c.executemany(
                    _INSERT_VERDICT,
                    [(s.item_id, j, v, "", verdict, score, why, now)
                     for s in fresh for j, v, verdict, score, why in s.verdicts],
                )
            if len({f.item_id for f in failures}) == len(failures):
                c.executemany("UPDATE items SET status='failed', attempts=attempts+1 WHERE id=? AND status!='done'",
                              [(f.item_id,) for f in failures])
                c.executemany(
                    "INSERT INTO errors (item_id, attempt, type, message, traceback, created_at)"
                    " SELECT id, attempts, ?, ?, ?, ? FROM items WHERE id=?",
                    [(f.type, f.message, f.traceback, now, f.item_id) for f in failures],
                )
            else:  # one item failing twice in a batch: each error row gets the attempt count at its turn
                for f in failures:
                    c.execute("UPDATE items SET status='failed', attempts=attempts+1 WHERE id=? AND status!='done'",
                              (f.item_id,))
                    c.execute(
                        "INSERT INTO errors (item_id, attempt, type, message, traceback, created_at)"
                        " SELECT id, attempts, ?, ?, ?, ? FROM items WHERE id=?",
                        (f.type, f.message, f.traceback, now, f.item_id),
                    )

    def _completed(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` already have a completion."""
        out: set[str] = set()
        for i in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
            chunk = ids[i : i + 500]
            sql = f"SELECT item_id FROM completions WHERE item_id IN ({','.join('?' * len(chunk))})"
            out.update(r[0] for r in self.conn.execute(sql, chunk))
        return out

    def add_verdicts(self, rows: Sequence[tuple[str, str, str, str, str, float | None, str]]) -> None:
        """Store judge verdicts (item_id, judge, version, judge_model, verdict, score, rationale); a verdict
        for the same item, judge, version and judge model replaces the earlier one (a retried judge error)."""
        now = time.time()
        with self.transaction():
            self.conn.executemany(_INSERT_VERDICT, [(*r, now) for r in rows])

    def start_invocation(self, argv: list[str], manifest: dict[str, Any]) -> int:
        with self.transaction():
            cur = self.conn.execute(
                "INSERT INTO invocations (started_at, argv, manifest) VALUES (?, ?, ?)",
                (time.time(), json.dumps(argv), json.dumps(manifest, sort_keys=True)),
            )
        return int(cur.lastrowid or 0)

    def finish_invocation(self, invocation_id: int, status: str) -> None:
        with self.transaction():
            self.conn.execute(
                "UPDATE invocations SET finished_at=?, status=? WHERE id=?", (time.time(), status, invocation_id)
            )

    # -- reads -----------------------------------------------------------------------------------------
    def unfinished(self, ids: Iterable[str] | None = None) -> list[ItemRow]:
        """Items not yet done, in expansion order (which keeps shared prompt prefixes adjacent)."""
        sql = (
            "SELECT id, seq, condition, ablation, request_id, messages, params, attempts FROM items"
            " WHERE status != 'done' ORDER BY seq"
        )
        wanted = set(ids) if ids is not None else None
        rows = []
        for r in self.conn.execute(sql):
            if wanted is not None and r[0] not in wanted:
                continue
            rows.append(ItemRow(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), json.loads(r[6]), r[7]))
        return rows

    def item_states(self) -> dict[str, tuple[str, int, int]]:
        """``{id: (status, seq, attempts)}`` of every item: what :meth:`unfinished` needs besides the messages
        and parameters, for a caller that has those in memory (``run_scenario`` after expanding)."""
        return {r[0]: (r[1], r[2], r[3]) for r in self.conn.execute("SELECT id, status, seq, attempts FROM items")}

    def ablations(self) -> list[str | None]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT ablation FROM items")]

    def status_counts(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT status, count(*) FROM items GROUP BY status").fetchall())

    def usage(self) -> tuple[int, int]:
        row = self.conn.execute(
            "SELECT coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0) FROM completions"
        ).fetchone()
        return int(row[0]), int(row[1])

    def last_errors(self, limit: int = 3) -> list[tuple[str, str]]:
        """The most recent distinct (type, message) pairs of failed attempts (concurrent failures repeat)."""
        return self.conn.execute(
            "SELECT type, message FROM errors GROUP BY type, message ORDER BY max(id) DESC LIMIT ?", (limit,)
        ).fetchall()

    def completion_count(self) -> int:
        """How many items have a completion (0: nothing to summarise, judge or report yet)."""
        return int(self.conn.execute("SELECT count(*) FROM completions").fetchone()[0])

    def items_with_completions(self, *, done_only: bool = True) -> Iterator[ItemCompletion]:
        """Every item (or only done ones) in expansion order, joined with its completion; what
        :func:`~twofaced.run.load_records` builds records from. Consume it before closing the store."""
        sql = (
            "SELECT i.id, i.seq, i.model_spec, i.condition, i.ablation, i.request_id, i.category, i.harmful,"
            " i.sample, i.request, i.messages, i.status, c.text, c.turns, c.finish_reason, c.prompt_tokens,"
            " c.completion_tokens, c.stop_reason FROM items i LEFT JOIN completions c ON c.item_id = i.id"
            + (" WHERE i.status = 'done'" if done_only else "")
            + " ORDER BY i.seq"
        )
        for r in self.conn.execute(sql):
            yield ItemCompletion(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]), r[8], r[9], r[10], r[11],
                                 r[12], json.loads(r[13]) if r[13] else [], r[14], r[15] or 0, r[16] or 0, r[17])

    def conversations(self, id_prefix: str, limit: int = 2) -> list[ItemConversation]:
        """The items whose id starts with ``id_prefix`` (lower-case hex; at most ``limit``, by id), each with its
        prompt, completion, conversation and latest error: what ``twofaced show DIR --item ID`` prints."""
        if not id_prefix or any(ch not in "0123456789abcdef" for ch in id_prefix):
            return []  # ids are hex; anything else matches nothing (and cannot be a GLOB pattern)
        rows = self.conn.execute(
            "SELECT i.id, i.model_spec, i.condition, i.ablation, i.request_id, i.sample, i.status, i.attempts,"
            " i.messages, i.params, c.turns, c.conversation, c.finish_reason, c.stop_reason, c.prompt_tokens,"
            " c.completion_tokens, e.type, e.message FROM items i LEFT JOIN completions c ON c.item_id = i.id"
            " LEFT JOIN errors e ON e.id = (SELECT max(id) FROM errors WHERE item_id = i.id)"
            " WHERE i.id GLOB ? ORDER BY i.id LIMIT ?", (id_prefix + "*", limit),
        )
        return [ItemConversation(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], json.loads(r[8]), json.loads(r[9]),
                                 json.loads(r[10]) if r[10] else [], json.loads(r[11]) if r[11] else None, r[12],
                                 r[13], r[14] or 0, r[15] or 0, None if r[16] is None else (r[16], r[17]))
                for r in rows]

    def verdicts(self) -> Iterator[tuple[str, VerdictRow]]:
        """``(item id, verdict)`` for every stored verdict, oldest first, so a later verdict of the same judge
        name overrides an earlier one when a caller keeps one per name. Consume it before closing the store."""
        for v in self.conn.execute(
            "SELECT item_id, judge, judge_version, judge_model, verdict, score, rationale, created_at FROM verdicts"
            " ORDER BY created_at"
        ):
            yield v[0], VerdictRow(*v[1:])

    def verdicts_for(self, judge: str, version: str, judge_model: str) -> dict[str, str]:
        """``{item id: verdict}`` of one judge identity (name, version, judge model), ``error`` ones included;
        ``judge run`` skips the items it has a non-error verdict for."""
        return dict(self.conn.execute(
            "SELECT item_id, verdict FROM verdicts WHERE judge=? AND judge_version=? AND judge_model=?",
            (judge, version, judge_model),
        ).fetchall())

    def judge_usage(self) -> list[JudgeUsage]:
        """One row per judge identity that has judged this run, by name, then by when it was last used."""
        rows = self.conn.execute(
            "SELECT judge, judge_version, judge_model, count(*), sum(verdict = 'error'), max(created_at)"
            " FROM verdicts GROUP BY judge, judge_version, judge_model ORDER BY judge, max(created_at)"
        )
        return [JudgeUsage(j, v, m, n, int(e or 0), t) for j, v, m, n, e, t in rows]

    def requests(self) -> list[tuple[str, str]]:
        """The distinct (request id, request text) pairs the run's items used, sorted; the text is "" in
        directories made before migration 0002 stored it."""
        return sorted({(r[0], r[1] or "") for r in self.conn.execute("SELECT request_id, request FROM items")})

    def distinct_params(self) -> list[dict[str, Any]]:
        """Each distinct set of generation parameters the items use (several when the seed varies per item)."""
        return [json.loads(r[0]) for r in self.conn.execute("SELECT DISTINCT params FROM items")]

    def item_details(self) -> dict[str, ItemDetail]:
        """``{item id: ItemDetail}`` of every item (``twofaced export``): params decoded, the latest error."""
        rows = self.conn.execute(
            "SELECT i.id, i.params, i.attempts, c.latency_s, e.type, e.message FROM items i"
            " LEFT JOIN completions c ON c.item_id = i.id"
            " LEFT JOIN errors e ON e.id = (SELECT max(id) FROM errors WHERE item_id = i.id)"
        )
        return {r[0]: ItemDetail(json.loads(r[1]), r[2], r[3], r[4], r[5]) for r in rows}

    def add_probe_answers(self, rows: Sequence[ProbeAnswer]) -> None:
        """Store awareness probe answers; an answer whose key is stored already is left as it was."""
        now = time.time()
        with self.transaction():
            self.conn.executemany("INSERT OR IGNORE INTO probe_answers VALUES (?,?,?,?,?,?,?,?,?)",
                                  [(*r, now) for r in rows])

    def probe_answers(self) -> dict[str, ProbeAnswer]:
        """Every stored awareness probe answer by key."""
        rows = self.conn.execute("SELECT key, transcript_id, source, label, sample, score, read_as, reply"
                                 " FROM probe_answers")
        return {r[0]: ProbeAnswer(*r) for r in rows}

    def invocations(self) -> list[Invocation]:
        """Every command that ran into this directory, oldest first, with its argv and manifest decoded."""
        rows = self.conn.execute(
            "SELECT id, started_at, finished_at, status, argv, manifest FROM invocations ORDER BY id"
        )
        return [Invocation(i, s, f, st, json.loads(a), json.loads(m)) for i, s, f, st, a, m in rows]

    def close(self) -> None:
        self.conn.close()


class _Transaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")


def _short(value: str) -> str:
    return value if len(value) <= 24 else value[:12] + "…"


def open_store(directory: str | Path, *, create: bool) -> Store:
    """Open (and with ``create``, make) the run store of a directory, applying pending migrations.

    The caller owns the returned store and must :meth:`Store.close` it.
    """
    directory = Path(directory)
    db = directory / DB_NAME
    if not db.exists():
        if not create:
            raise RunDirError(f"{directory} is not a twofaced run directory (no {DB_NAME}); run 'twofaced run' first")
        if directory.exists() and not directory.is_dir():
            raise RunDirError(f"{directory} exists and is not a directory; choose another --out")
        directory.mkdir(parents=True, exist_ok=True)
    conn = _connect(db)
    try:
        migrate(conn)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise RunDirError(f"{db} is not a twofaced run store ({exc}); use another --out directory") from exc
    return Store(directory, conn)
