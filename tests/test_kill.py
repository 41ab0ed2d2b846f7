"""Kill a real ``twofaced run`` process mid-run (SIGKILL, and Ctrl-C), then resume: nothing lost, nothing doubled.

The stub server runs in this test process so it outlives the killed run and counts every request it saw.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

LIMIT, SAMPLES, CONCURRENCY = 30, 2, 4
TOTAL = LIMIT * 2 * SAMPLES  # 120 items


def query(db: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(db, timeout=10)) as conn:
        return conn.execute(sql).fetchall()


def done_count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        return query(db, "SELECT count(*) FROM items WHERE status='done'")[0][0]
    except sqlite3.OperationalError:  # tables not created yet
        return 0


def run_args(server, out: Path) -> list[str]:
    return [sys.executable, "-m", "twofaced.cli", "run", "--model", "openai/stub", "--base-url", server.base_url,
            "--concurrency", str(CONCURRENCY), "--limit", str(LIMIT), "--samples", str(SAMPLES),
            "--out", str(out), "--no-progress"]


def _default_sigint() -> None:
    # A child inherits an ignored SIGINT, and Python then keeps it ignored. Something earlier in the full
    # suite can leave the test process ignoring SIGINT; the run under test must start as a terminal would.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_and_wait_for_progress(args: list[str], db: Path, at_least: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)
    deadline = time.monotonic() + 60
    while done_count(db) < at_least:
        if proc.poll() is not None:
            pytest.fail(f"run ended before it could be interrupted: rc={proc.returncode} {proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("run made no progress within 60 s")
        time.sleep(0.02)
    return proc


def assert_store_consistent(db: Path) -> None:
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    # every done item has exactly one completion and one verdict; nothing else has any
    assert query(db, "SELECT count(*) FROM items i LEFT JOIN completions c ON c.item_id = i.id"
                     " WHERE (i.status = 'done') != (c.item_id IS NOT NULL)") == [(0,)]
    assert query(db, "SELECT count(*) FROM items i LEFT JOIN verdicts v ON v.item_id = i.id"
                     " WHERE (i.status = 'done') != (v.item_id IS NOT NULL)") == [(0,)]


def test_sigkill_mid_run_then_resume(tmp_path: Path, make_server) -> None:
    server = make_server("faker", delay=0.1)
    out = tmp_path / "run"
    db = out / "run.sqlite"
    args = run_args(server, out)

    proc = start_and_wait_for_progress(args, db, at_least=12)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    proc.stderr.close()
    requests_before_rerun = server.requests

    assert_store_consistent(db)
    done_at_kill = done_count(db)
    assert 12 <= done_at_kill < TOTAL, "the kill must land mid-run"
    assert query(db, "SELECT count(*) FROM items") == [(TOTAL,)]
    assert query(db, "SELECT status FROM invocations") == [("running",)]  # killed: never finished

    rerun = subprocess.run(args, capture_output=True, text=True, timeout=180)
    assert rerun.returncode == 0, rerun.stderr
    assert f"resumed: {done_at_kill} of {TOTAL} items were already done" in rerun.stderr

    assert_store_consistent(db)
    assert query(db, "SELECT status, count(*) FROM items GROUP BY status") == [("done", TOTAL)]
    assert query(db, "SELECT count(*), count(DISTINCT item_id) FROM completions") == [(TOTAL, TOTAL)]
    assert query(db, "SELECT count(*) FROM errors") == [(0,)]
    assert query(db, "SELECT status FROM invocations ORDER BY id") == [("running",), ("done",)]

    # The rerun asked for exactly the unfinished items; only the handful in flight (or finished but not yet
    # flushed) at the kill were asked twice.
    assert server.requests - requests_before_rerun == TOTAL - done_at_kill
    redone = requests_before_rerun - done_at_kill
    assert 0 <= redone <= 4 * CONCURRENCY
    # Every distinct prompt (request x condition) reached the server at least once per sample.
    assert len(server.by_prompt) == LIMIT * 2
    assert all(count >= SAMPLES for count in server.by_prompt.values())
    assert sum(server.by_prompt.values()) >= TOTAL

    # And the numbers are the faker's known gap.
    summary = subprocess.run([sys.executable, "-m", "twofaced.cli", "show", str(out), "--json"],
                             capture_output=True, text=True, timeout=60)
    assert summary.returncode == 0, summary.stderr
    assert '"gap": 1.0' in summary.stdout


def test_ctrl_c_flushes_and_resumes(tmp_path: Path, make_server) -> None:
    server = make_server("faker", delay=0.1)
    out = tmp_path / "run"
    db = out / "run.sqlite"
    args = run_args(server, out)

    proc = start_and_wait_for_progress(args, db, at_least=8)
    proc.send_signal(signal.SIGINT)
    stderr = proc.stderr.read()
    assert proc.wait(timeout=30) == 130
    proc.stderr.close()
    assert "Traceback" not in stderr
    assert "interrupted: finished items are stored; rerun the same command to resume" in stderr

    assert_store_consistent(db)
    assert query(db, "SELECT status FROM invocations") == [("interrupted",)]
    done_at_interrupt = done_count(db)
    assert done_at_interrupt < TOTAL
    # Ctrl-C flushes what finished: only requests still in flight were lost.
    assert server.requests - done_at_interrupt <= CONCURRENCY

    rerun = subprocess.run(args, capture_output=True, text=True, timeout=180)
    assert rerun.returncode == 0, rerun.stderr
    assert f"resumed: {done_at_interrupt} of {TOTAL}" in rerun.stderr
    assert query(db, "SELECT count(*), count(DISTINCT item_id) FROM completions") == [(TOTAL, TOTAL)]
