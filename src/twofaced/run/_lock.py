"""One writer per run directory: an exclusive ``flock`` on ``DIR/.lock`` while a command writes to the directory.

Who takes it: ``run_scenario`` (hence ``run``, every model of a multi-model run and every sweep cell),
``judge_run`` and ``import_inspect_log``, each for the whole time it writes. Readers (``show``, ``report``,
``compare``) never take it: SQLite's WAL lets them read while a writer commits.

Invariants:
- The lock is the kernel's, not the file's: ``flock`` is released when its file descriptor closes, and the
  kernel closes it when the process ends however it ends (SIGKILL included), so a killed writer never leaves a
  stale lock. The file itself stays (deleting it while another process waits on it would let two writers in);
  its content is only a label, the holder's pid and command, for the message a waiting writer prints.
- A second writer waits, polling without blocking the event loop (so Ctrl-C still works), and says once on
  stderr (logger ``twofaced.run``) which process it waits for. When it gets the lock it reads the store afresh,
  so it finds the first writer's finished items done and sends nothing for them.
- ``flock`` conflicts between two opens of the file even inside one process, so a second writer in the same
  process waits too. The descriptor is not inherited by programs the writer starts (Python opens it
  non-inheritable).
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, Self

from ..errors import RunDirError

LOCK_NAME = ".lock"
POLL_S = 0.1

log = logging.getLogger("twofaced.run")


class DirectoryLock:
    """The held lock of one run directory; :meth:`release` it (or use it as a context manager). Get one with
    :func:`lock_directory` or :func:`lock_directory_async`: ``with lock_directory(d, argv): ...``."""

    def __init__(self, directory: Path, fd: int) -> None:
        self.directory = directory
        self._fd: int | None = fd

    def release(self) -> None:
        """Clear the label and release the lock; idempotent."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # closing releases the flock

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def _open(directory: Path) -> int:
    if directory.exists() and not directory.is_dir():
        raise RunDirError(f"{directory} exists and is not a directory; choose another --out")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        return os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise RunDirError(f"cannot lock {directory / LOCK_NAME} ({exc.strerror}); check the directory's "
                          "permissions or use another --out") from exc


def _holder(directory: Path) -> str:
    try:
        label = (directory / LOCK_NAME).read_text(errors="replace").strip()
    except OSError:
        label = ""
    return label.splitlines()[0] if label else "another process"


def _try(directory: Path, command: list[str]) -> DirectoryLock | None:
    """Take the lock without waiting: the held lock, or None when another writer holds it."""
    fd = _open(directory)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()}: twofaced {' '.join(command)}".strip().encode() + b"\n", 0)
    return DirectoryLock(directory, fd)


def _say_waiting(directory: Path) -> None:
    log.warning("waiting for the writer in progress in %s (%s) to finish; Ctrl-C to stop waiting",
                directory, _holder(directory))


def lock_directory(directory: str | Path, command: list[str] | None = None) -> DirectoryLock:
    """Take the write lock of ``directory`` (created if missing), waiting for another writer to finish.

    ``command`` (the argv after ``twofaced``) labels the lock for a writer that has to wait. The caller owns
    the returned lock and must release it once it stops writing.
    """
    path, argv = Path(directory), list(command if command is not None else sys.argv[1:])
    lock = _try(path, argv)
    if lock is None:
        _say_waiting(path)
        while (lock := _try(path, argv)) is None:
            time.sleep(POLL_S)
    return lock


async def lock_directory_async(directory: str | Path, command: list[str] | None = None) -> DirectoryLock:
    """:func:`lock_directory` for a coroutine: waits with ``asyncio.sleep``, so the loop (and Ctrl-C) runs."""
    path, argv = Path(directory), list(command if command is not None else sys.argv[1:])
    lock = _try(path, argv)
    if lock is None:
        _say_waiting(path)
        while (lock := _try(path, argv)) is None:
            await asyncio.sleep(POLL_S)
    return lock
