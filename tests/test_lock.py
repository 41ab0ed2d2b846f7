"""One writer per run directory: the ``DIR/.lock`` flock taken by ``run``, ``judge run`` and imports.

Real processes throughout: two ``twofaced run`` commands started together against one loopback stub server
(which counts every request), a writer killed with SIGKILL while it holds the lock, and a ``judge run`` that
has to wait for a writer in this process.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from twofaced import RunConfig, load_scenario, run_scenario
from twofaced.errors import RunDirError
from twofaced.run import judge_run, load_records, open_store
from twofaced.run._lock import LOCK_NAME, _try, lock_directory

CLI = [sys.executable, "-m", "twofaced.cli"]


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_a_second_lock_waits_for_the_first_and_says_so_once(tmp_path: Path, caplog) -> None:
    first = lock_directory(tmp_path / "d", ["run", "first"])
    assert (tmp_path / "d" / LOCK_NAME).read_text() == f"pid {os.getpid()}: twofaced run first\n"
    assert _try(tmp_path / "d", ["x"]) is None  # flock conflicts across opens, even in one process
    got: list[object] = []
    with caplog.at_level(logging.WARNING, logger="twofaced.run"):
        waiter = threading.Thread(target=lambda: got.append(lock_directory(tmp_path / "d", ["judge", "run"])))
        waiter.start()
        time.sleep(0.5)
        assert waiter.is_alive() and not got  # still waiting
        first.release()
        waiter.join(timeout=10)
    assert got, "the waiting writer never got the lock"
    messages = [r.getMessage() for r in caplog.records if r.name == "twofaced.run"]
    assert len(messages) == 1 and "\n" not in messages[0]
    assert f"waiting for the writer in progress in {tmp_path / 'd'} (pid {os.getpid()}: twofaced run first)" \
        in messages[0]
    got[0].release()  # type: ignore[attr-defined]
    first.release()  # idempotent


def test_lock_on_a_file_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(RunDirError, match="exists and is not a directory"):
        lock_directory(tmp_path / "f")


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    d = tmp_path / "d"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from twofaced.run._lock import lock_directory; "
         f"lock_directory({str(d)!r}, ['run']); print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    assert _try(d, ["x"]) is None
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    holder.stdout.close()
    assert f"pid {holder.pid}" in (d / LOCK_NAME).read_text()  # the label stays, the lock does not
    lock = _try(d, ["again"])
    assert lock is not None
    lock.release()


def _run_args(server, out: Path, limit: int) -> list[str]:
    return [*CLI, "run", "--model", "openai/stub", "--base-url", server.base_url, "--limit", str(limit),
            "--concurrency", "4", "--out", str(out), "--no-progress", "--json"]


def test_two_runs_started_at_once_send_each_item_once(tmp_path: Path, make_server) -> None:
    server = make_server("faker", delay=0.05)
    out, limit = tmp_path / "run", 10
    items = limit * 2
    procs = [subprocess.Popen(_run_args(server, out, limit), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    results = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e for _, e in results]
    assert server.requests == items  # the upstream received each item once
    errs = [e for _, e in results]
    waited = [e for e in errs if "waiting for the writer in progress" in e]
    assert len(waited) == 1, errs
    assert f"resumed: {items} of {items} items were already done" in waited[0]
    assert len([ln for ln in waited[0].splitlines() if "waiting for" in ln]) == 1
    with open_store(out, create=False) as store:
        assert store.status_counts() == {"done": items}
        assert [i.status for i in store.invocations()] == ["done", "done"]


def test_a_run_killed_while_holding_the_lock_resumes_at_once_losing_nothing(tmp_path: Path, make_server) -> None:
    server = make_server("faker", delay=0.1)
    out, limit = tmp_path / "run", 20
    items = limit * 2
    proc = subprocess.Popen(_run_args(server, out, limit), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=_default_sigint)
    deadline = time.monotonic() + 60
    while True:
        done = 0
        if (out / "run.sqlite").exists():
            try:
                with open_store(out, create=False) as store:
                    done = store.status_counts().get("done", 0)
            except Exception:  # the store is being created
                done = 0
        if done >= 8:
            break
        assert proc.poll() is None and time.monotonic() < deadline, "the run never got going"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    with open_store(out, create=False) as store:
        done_at_kill = store.status_counts().get("done", 0)
        stored = {r.item_id: r.text for r in load_records(store)}
    assert done_at_kill < items and f"pid {proc.pid}" in (out / LOCK_NAME).read_text()

    started = time.monotonic()
    rerun = subprocess.run(_run_args(server, out, limit), capture_output=True, text=True, timeout=180)
    assert rerun.returncode == 0, rerun.stderr
    assert "waiting for" not in rerun.stderr  # the dead writer's lock went with it
    assert f"resumed: {done_at_kill} of {items}" in rerun.stderr
    assert time.monotonic() - started < 60
    with open_store(out, create=False) as store:
        assert store.status_counts() == {"done": items}
        after = {r.item_id: r.text for r in load_records(store)}
    assert all(after[k] == v for k, v in stored.items())  # nothing stored before the kill was lost or redone


def test_judge_run_waits_for_a_writer_then_judges(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_scenario(load_scenario("helpful-only"), RunConfig("mock/faker", limit=2), out)
    lock = lock_directory(out, ["run", "--out", str(out)])
    proc = subprocess.Popen([*CLI, "judge", "run", str(out), "--judge", "af-llm", "--judge-model", "mock/judge",
                             "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(3)
        assert proc.poll() is None, proc.communicate()
        with open_store(out, create=False) as store:  # readers never need the lock
            assert all("af-llm" not in r.verdicts for r in load_records(store))
    finally:
        lock.release()
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert f"(pid {os.getpid()}: twofaced run --out {out})" in stderr
    assert '"judged": 4' in stdout


def test_judge_run_on_a_missing_directory_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(RunDirError, match="not a twofaced run directory"):
        judge_run(tmp_path / "nothing", "compliance-rules")
    assert not (tmp_path / "nothing").exists()
