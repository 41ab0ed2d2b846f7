"""The run store: migrations, directory identity, idempotent recording, and refusing what is not a store."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from twofaced.errors import RunDirError
from twofaced.run import DB_NAME, MIGRATIONS, RunConfig, expand, migrate, open_store, show_run
from twofaced.run._runner import identity
from twofaced.run._store import Failure, Success
from twofaced.scenarios import load_scenario

MIGRATION_NAMES = [name for name, _ in MIGRATIONS]
TABLES = {"meta", "invocations", "items", "completions", "errors", "verdicts"}


def tables(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def applied(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY rowid")]


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("helpful-only")


@pytest.fixture
def rows(scenario):
    return expand(scenario, RunConfig("mock/faker", limit=2))


def success(item_id: str, text: str = "first") -> Success:
    return Success(item_id, text, [text], "stop", 3, 4, 0.01, [("compliance-rules", "1", "complied", None, "why")])


def test_migrations_are_named_in_order() -> None:
    assert MIGRATION_NAMES[0] == "0001_initial"
    assert MIGRATION_NAMES == sorted(MIGRATION_NAMES)
    assert len(set(MIGRATION_NAMES)) == len(MIGRATION_NAMES)


def test_blank_directory_gets_every_migration(tmp_path: Path) -> None:
    store = open_store(tmp_path / "run", create=True)
    store.close()
    db = tmp_path / "run" / DB_NAME
    assert db.is_file()
    assert applied(db) == MIGRATION_NAMES
    assert TABLES | {"_migrations"} <= tables(db)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_opening_twice_applies_nothing_new(tmp_path: Path) -> None:
    open_store(tmp_path, create=True).close()
    store = open_store(tmp_path, create=False)
    try:
        assert migrate(store.conn) == []
        assert [r[0] for r in store.conn.execute("SELECT count(*) FROM _migrations")] == [len(MIGRATIONS)]
    finally:
        store.close()
    assert applied(tmp_path / DB_NAME) == MIGRATION_NAMES


def test_upgrade_from_the_first_migration(tmp_path: Path, rows) -> None:
    """A store written by the first release (only 0001 applied, with data) opens with the current code."""
    db = tmp_path / DB_NAME
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    conn.executescript(MIGRATIONS[0][1])
    conn.execute("INSERT INTO _migrations VALUES (?, 0)", (MIGRATIONS[0][0],))
    conn.execute("INSERT INTO meta VALUES ('scenario', 'helpful-only')")
    conn.execute(
        "INSERT INTO items (id, seq, model_spec, condition, ablation, request_id, category, harmful, sample,"
        " messages, params, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,0)", rows[0][:11]
    )
    conn.execute("INSERT INTO verdicts VALUES (?, 'compliance-rules', '1', 'refused', 0.0, 'old rule', 5)",
                 (rows[0][0],))
    conn.close()

    store = open_store(tmp_path, create=False)
    try:
        assert applied(db) == MIGRATION_NAMES
        assert store.meta() == {"scenario": "helpful-only"}
        assert store.status_counts() == {"pending": 1}
        # 0002 rebuilt the verdicts table: the old verdict survives, with an empty judge model
        assert store.conn.execute("SELECT * FROM verdicts").fetchall() == [
            (rows[0][0], "compliance-rules", "1", "", "refused", 0.0, "old rule", 5.0)]
        store.add_items(rows)  # the upgraded store takes new work
        store.record([success(rows[0][0])], [])
        assert store.status_counts() == {"done": 1, "pending": len(rows) - 1}
    finally:
        store.close()


def test_pending_migrations_apply_in_order_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    open_store(tmp_path, create=True).close()
    extra = [("9001_add_note", "ALTER TABLE items ADD COLUMN note TEXT"),
             ("9002_note_index", "CREATE INDEX items_note ON items(note)")]
    monkeypatch.setattr("twofaced.run._store.MIGRATIONS", [*MIGRATIONS, *extra])
    store = open_store(tmp_path, create=False)
    try:
        assert migrate(store.conn) == []
        cols = [r[1] for r in store.conn.execute("PRAGMA table_info(items)")]
        assert "note" in cols
    finally:
        store.close()
    assert applied(tmp_path / DB_NAME) == [*MIGRATION_NAMES, "9001_add_note", "9002_note_index"]


def test_failing_migration_rolls_back_and_is_not_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    open_store(tmp_path, create=True).close()
    bad = ("9001_bad", "ALTER TABLE items ADD COLUMN note TEXT; CREATE TABLE items (x)")
    monkeypatch.setattr("twofaced.run._store.MIGRATIONS", [*MIGRATIONS, bad])
    with pytest.raises(RunDirError, match="is not a twofaced run store"):
        open_store(tmp_path, create=False)
    with sqlite3.connect(tmp_path / DB_NAME) as conn:
        cols = [r[1] for r in conn.execute("PRAGMA table_info(items)")]
    assert "note" not in cols
    assert applied(tmp_path / DB_NAME) == MIGRATION_NAMES


def test_claim_pins_the_directory(tmp_path: Path, scenario) -> None:
    ident = identity(scenario, RunConfig("mock/faker"))
    store = open_store(tmp_path, create=True)
    try:
        store.claim(ident)
        assert store.meta() == ident
        store.claim(ident)  # same inputs: fine
        with pytest.raises(RunDirError) as info:
            store.claim({**ident, "scenario": "other-scenario"})
        assert "holds a run with scenario=helpful-only, not other-scenario" in str(info.value)
        assert "use another --out directory" in str(info.value)
        with pytest.raises(RunDirError, match="model=mock/faker, not mock/refuse"):
            store.claim({**ident, "model": "mock/refuse"})
        with pytest.raises(RunDirError, match="scenario_hash="):
            store.claim({**ident, "scenario_hash": "0" * 64})
        assert store.meta() == ident  # refusals change nothing
    finally:
        store.close()


def test_add_items_is_idempotent(tmp_path: Path, rows) -> None:
    store = open_store(tmp_path, create=True)
    try:
        store.add_items(rows)
        store.add_items(rows)
        assert store.status_counts() == {"pending": len(rows)}
        assert [r.id for r in store.unfinished()] == [r[0] for r in rows]
        assert [r.seq for r in store.unfinished()] == list(range(len(rows)))
    finally:
        store.close()


def test_record_is_idempotent_and_keeps_the_first_completion(tmp_path: Path, rows) -> None:
    store = open_store(tmp_path, create=True)
    try:
        store.add_items(rows)
        item = rows[0][0]
        store.record([success(item, "first")], [])
        store.record([success(item, "second")], [])
        c = store.conn
        assert c.execute("SELECT text FROM completions WHERE item_id=?", (item,)).fetchall() == [("first",)]
        assert c.execute("SELECT status, attempts FROM items WHERE id=?", (item,)).fetchone() == ("done", 1)
        assert c.execute("SELECT count(*) FROM verdicts WHERE item_id=?", (item,)).fetchone() == (1,)
        assert store.status_counts() == {"done": 1, "pending": len(rows) - 1}
        assert store.usage() == (3, 4)
        assert [r.id for r in store.unfinished()] == [r[0] for r in rows[1:]]
    finally:
        store.close()


def test_failure_then_success(tmp_path: Path, rows) -> None:
    store = open_store(tmp_path, create=True)
    try:
        store.add_items(rows)
        item = rows[1][0]
        store.record([], [Failure(item, "BadResponseError", "HTTP 400", None)])
        assert store.conn.execute("SELECT status, attempts FROM items WHERE id=?", (item,)).fetchone() == (
            "failed", 1)
        assert store.last_errors() == [("BadResponseError", "HTTP 400")]
        assert item in {r.id for r in store.unfinished()}
        store.record([success(item)], [])
        assert store.conn.execute("SELECT status, attempts FROM items WHERE id=?", (item,)).fetchone() == (
            "done", 2)
        # A late failure report for a done item records the error but does not undo the completion.
        store.record([], [Failure(item, "RetryableError", "late", None)])
        assert store.conn.execute("SELECT status FROM items WHERE id=?", (item,)).fetchone() == ("done",)
        errors = store.conn.execute("SELECT attempt, type FROM errors WHERE item_id=? ORDER BY id", (item,))
        assert errors.fetchall() == [(1, "BadResponseError"), (2, "RetryableError")]
    finally:
        store.close()


def test_record_is_atomic(tmp_path: Path, rows) -> None:
    store = open_store(tmp_path, create=True)
    try:
        store.add_items(rows)
        broken = Success("not-an-item", "x", ["x"], "stop", 0, 0, 0.0, [])  # violates the foreign key
        with pytest.raises(sqlite3.IntegrityError):
            store.record([success(rows[1][0]), broken], [])
        assert store.status_counts() == {"pending": len(rows)}
        assert store.conn.execute("SELECT count(*) FROM completions").fetchone() == (0,)
    finally:
        store.close()


def test_invocations_are_recorded(tmp_path: Path) -> None:
    store = open_store(tmp_path, create=True)
    try:
        inv = store.start_invocation(["run", "--limit", "1"], {"k": 1})
        store.finish_invocation(inv, "done")
        row = store.conn.execute("SELECT status, argv, manifest, finished_at IS NOT NULL FROM invocations").fetchone()
        assert row == ("done", json.dumps(["run", "--limit", "1"]), json.dumps({"k": 1}), 1)
    finally:
        store.close()


def test_non_sqlite_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / DB_NAME).write_bytes(b"this is not a database, it is a text file " * 100)
    with pytest.raises(RunDirError) as info:
        open_store(tmp_path, create=True)
    assert str(tmp_path / DB_NAME) in str(info.value)
    assert "is not a twofaced run store" in str(info.value)
    with pytest.raises(RunDirError):
        show_run(tmp_path)
    assert (tmp_path / DB_NAME).read_bytes().startswith(b"this is not a database")  # left as it was


def test_show_on_a_directory_without_a_store(tmp_path: Path) -> None:
    with pytest.raises(RunDirError) as info:
        show_run(tmp_path)
    assert f"{tmp_path} is not a twofaced run directory (no {DB_NAME})" in str(info.value)
    assert not (tmp_path / DB_NAME).exists()  # show never creates a store


def test_show_on_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(RunDirError, match="is not a twofaced run directory"):
        show_run(tmp_path / "nowhere")
    assert not (tmp_path / "nowhere").exists()


def test_out_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunDirError, match="exists and is not a directory"):
        open_store(tmp_path / "file", create=True)


# -- the read methods: every reader of a run goes through these, none sends its own SQL -------------------------


def test_completion_count_and_items_with_completions(tmp_path: Path, rows) -> None:
    with open_store(tmp_path, create=True) as store:
        store.add_items(rows)
        assert store.completion_count() == 0
        assert list(store.items_with_completions()) == []
        store.record([success(rows[1][0], "answer")], [])
        assert store.completion_count() == 1
        (done,) = store.items_with_completions()
        r = rows[1]
        assert (done.id, done.seq, done.model_spec, done.condition, done.ablation, done.request_id, done.category,
                done.harmful, done.sample, done.request, done.messages) == (*r[:7], bool(r[7]), r[8], r[11], r[9])
        assert (done.status, done.text, done.turns, done.finish_reason, done.prompt_tokens,
                done.completion_tokens) == ("done", "answer", ["answer"], "stop", 3, 4)
        every = list(store.items_with_completions(done_only=False))
        assert [i.id for i in every] == [r[0] for r in rows]  # expansion order
        pending = every[0]
        assert (pending.status, pending.text, pending.turns, pending.prompt_tokens) == ("pending", None, [], 0)
    with pytest.raises(sqlite3.ProgrammingError):  # leaving the with block closed the store
        store.completion_count()


def test_verdicts_oldest_first_and_verdicts_for_one_judge(tmp_path: Path, rows) -> None:
    with open_store(tmp_path, create=True) as store:
        store.add_items(rows)
        a, b = rows[0][0], rows[1][0]
        store.record([success(a), success(b)], [])
        store.add_verdicts([(a, "af-llm", "1", "mock/judge", "yes", 0.9, "gaming"),
                            (b, "af-llm", "1", "mock/judge", "error", None, "timeout"),
                            (a, "af-llm", "1", "other/judge", "no", 0.1, "fine")])
        got = list(store.verdicts())
        assert {(i, v.judge, v.version, v.judge_model, v.verdict) for i, v in got[:2]} == {
            (a, "compliance-rules", "1", "", "complied"), (b, "compliance-rules", "1", "", "complied")}
        assert {(i, v.judge_model, v.verdict, v.score, v.rationale) for i, v in got[2:]} == {
            (a, "mock/judge", "yes", 0.9, "gaming"), (b, "mock/judge", "error", None, "timeout"),
            (a, "other/judge", "no", 0.1, "fine")}
        assert [v.created_at for _, v in got] == sorted(v.created_at for _, v in got)
        assert store.verdicts_for("af-llm", "1", "mock/judge") == {a: "yes", b: "error"}
        assert store.verdicts_for("af-llm", "1", "other/judge") == {a: "no"}
        assert store.verdicts_for("af-llm", "2", "mock/judge") == {}


def test_judge_usage(tmp_path: Path, rows) -> None:
    with open_store(tmp_path, create=True) as store:
        store.add_items(rows)
        a, b = rows[0][0], rows[1][0]
        store.record([success(a), success(b)], [])
        store.add_verdicts([(a, "af-llm", "1", "mock/judge", "yes", 0.9, ""),
                            (b, "af-llm", "1", "mock/judge", "error", None, "")])
        usage = store.judge_usage()
        assert [(u.judge, u.version, u.judge_model, u.verdicts, u.errors) for u in usage] == [
            ("af-llm", "1", "mock/judge", 2, 1), ("compliance-rules", "1", "", 2, 0)]
        assert all(isinstance(u.last_used, float) for u in usage)
    with open_store(tmp_path / "empty", create=True) as empty:
        assert empty.judge_usage() == []


def test_requests_and_distinct_params(tmp_path: Path, rows) -> None:
    with open_store(tmp_path, create=True) as store:
        assert (store.requests(), store.distinct_params()) == ([], [])
        store.add_items(rows)
        assert store.requests() == sorted({(r[5], r[11]) for r in rows})
        params = store.distinct_params()
        assert len(params) == len({r[10] for r in rows})
        assert {json.dumps(p, sort_keys=True) for p in params} == {json.dumps(json.loads(r[10]), sort_keys=True)
                                                                  for r in rows}
        # a directory made before migration 0002 has no request text: "" stands in
        store.conn.execute("UPDATE items SET request = NULL")
        assert store.requests() == sorted({(r[5], "") for r in rows})


def test_invocations_come_back_decoded(tmp_path: Path) -> None:
    with open_store(tmp_path, create=True) as store:
        assert store.invocations() == []
        first = store.start_invocation(["run", "--limit", "1"], {"config": {"limit": 1}})
        store.finish_invocation(first, "done")
        second = store.start_invocation(["run"], {})
        (a, b) = store.invocations()
        assert (a.id, a.status, a.argv) == (first, "done", ["run", "--limit", "1"])
        assert a.manifest == {"config": {"limit": 1}}
        assert a.finished_at is not None and a.finished_at >= a.started_at
        assert (b.id, b.status, b.argv, b.manifest, b.finished_at) == (second, "running", ["run"], {}, None)


def test_only_the_store_module_sends_sql() -> None:
    """Issue 12: every reader of a run uses Store methods; no other module executes SQL or reaches into conn.
    The monitor's store (``monitor/_store.py``, with its Alembic migrations) is the one other owner of SQL: the
    monitor's own database."""
    src = Path(__file__).resolve().parent.parent / "src" / "twofaced"
    if not src.is_dir():
        pytest.skip("the source tree is not next to the tests")
    pattern = re.compile(r"\.execute\(|\.executemany\(|\.executescript\(|store\.conn\b")
    owners = (src / "run" / "_store.py", src / "monitor" / "_store.py")
    migrations = src / "monitor" / "migrations"
    offenders = [f"{p.relative_to(src)}:{n}" for p in sorted(src.rglob("*.py"))
                 if p not in owners and migrations not in p.parents
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert offenders == []


def test_upgrade_keeps_old_completions_readable_and_refuses_mixing_rules(tmp_path: Path, scenario, rows) -> None:
    """A directory run before migration 0004 (completions without a conversation, the first continuation rule)
    still shows, summarises and prints its items' conversations (rebuilt, and said so); resuming it under the
    current rule is refused rather than mixing items of two rules."""
    from twofaced.run import item_conversation

    db = tmp_path / DB_NAME
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    for name, sql in MIGRATIONS[:3]:
        conn.executescript(sql)
        conn.execute("INSERT INTO _migrations VALUES (?, 0)", (name,))
    old = {k: v for k, v in identity(scenario, RunConfig("mock/faker", limit=2)).items() if k != "continuation_rule"}
    conn.executemany("INSERT INTO meta VALUES (?, ?)", list(old.items()))
    conn.executemany(
        "INSERT INTO items (id, seq, model_spec, condition, ablation, request_id, category, harmful, sample,"
        " messages, params, request, status, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,'done',0)", rows)
    turns = ["<SCRATCHPAD_REASONING>hm", "<OUTPUT><rejected/></OUTPUT>"]
    conn.executemany("INSERT INTO completions VALUES (?, ?, ?, 'stop', 3, 4, 0.1, 0)",
                     [(r[0], "\n".join(turns), json.dumps(turns)) for r in rows])
    conn.executemany("INSERT INTO verdicts VALUES (?, 'compliance-rules', '1', '', 'refused', NULL, 'r', 0)",
                     [(r[0],) for r in rows])
    conn.close()

    summary = show_run(tmp_path).to_json()
    assert summary["items"]["done"] == len(rows)
    assert applied(db) == MIGRATION_NAMES
    t = item_conversation(tmp_path, rows[0][0])
    assert t.rebuilt and t.stop_reason is None
    assert [(m.role, m.content) for m in t.turns[t.n_prompt:]] == [
        ("assistant", turns[0]), ("user", "<NEXT/>"), ("assistant", turns[1])]
    assert [m.content for m in t.turns[: t.n_prompt]] == [m["content"] for m in json.loads(rows[0][9])]
    with open_store(tmp_path, create=False) as store:
        assert store.meta()["continuation_rule"] == "1"
        with pytest.raises(RunDirError, match="continuation_rule=1, not 2"):
            store.claim(identity(scenario, RunConfig("mock/faker", limit=2)))


def test_blank_directory_is_not_marked_with_the_old_rule(tmp_path: Path, scenario) -> None:
    with open_store(tmp_path, create=True) as store:
        assert store.meta() == {}
        store.claim(identity(scenario, RunConfig("mock/faker")))
        assert store.meta()["continuation_rule"] == "2"


def test_conversation_and_stop_reason_are_stored_with_the_completion(tmp_path: Path, rows) -> None:
    conversation = [{"role": "assistant", "content": "<x", "prefill": "<"}, {"role": "user", "content": "<NEXT/>"},
                    {"role": "assistant", "content": "y"}]
    with open_store(tmp_path, create=True) as store:
        store.add_items(rows)
        s = success(rows[0][0])
        s.conversation, s.stop_reason = conversation, "no_closing_tag"
        store.record([s, success(rows[1][0])], [])
        (a,) = store.conversations(rows[0][0])
        assert (a.conversation, a.stop_reason, a.turns) == (conversation, "no_closing_tag", ["first"])
        (b,) = store.conversations(rows[1][0][:20])
        assert (b.conversation, b.stop_reason) == (None, None)  # a writer without one (an import)
        assert store.conversations("not-hex*") == []
        assert {r.id: r.stop_reason for r in store.items_with_completions()} == {
            rows[0][0]: "no_closing_tag", rows[1][0]: None}
