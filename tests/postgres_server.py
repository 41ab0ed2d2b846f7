"""A throwaway Postgres server for the monitor's store tests: Debian's postgresql-15 binaries, ``initdb`` in a
temporary directory, ``pg_ctl`` on a free loopback port; tests stop and start it to make the store unavailable."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_BIN = Path("/usr/lib/postgresql/15/bin")


class Postgres:
    """One server, started on construction; :meth:`remove` stops it and deletes its files."""

    def __init__(self) -> None:
        if not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_ctl").exists():
            pytest.skip(f"Postgres server binaries not found under {PG_BIN} (apt-get install postgresql-15)")
        self.prefix: list[str] = []
        self.root = Path(tempfile.mkdtemp(prefix="twofaced-pg-"))  # not under pytest's tmp (0700 when root)
        if os.geteuid() == 0:  # initdb refuses to run as root
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root and there is no 'postgres' user to run the server as")
            runuser = shutil.which("runuser")
            if runuser is None:
                pytest.skip("running as root and runuser is missing")
            self.prefix = [runuser, "-u", "postgres", "--"]
            os.chown(self.root, user.pw_uid, user.pw_gid)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.data = self.root / "data"
        self._pg("initdb", "-D", str(self.data), "-U", "twofaced", "--auth=trust", "--no-sync")
        self.start()

    @property
    def url(self) -> str:
        return f"postgresql://twofaced@127.0.0.1:{self.port}/postgres"

    def _pg(self, tool: str, *args: str, check: bool = True) -> None:
        subprocess.run([*self.prefix, str(PG_BIN / tool), *args], check=check, capture_output=True, timeout=120,
                       cwd=self.root)

    def start(self) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-w", "-l", str(self.root / "log"), "-o",
                 f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self, mode: str = "fast", check: bool = True) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-w", "-m", mode, "stop", check=check)

    def remove(self) -> None:
        self.stop("immediate", check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def postgres_server() -> Iterator[Postgres]:
    """The body of a ``postgres`` fixture: a server for one test, removed after it."""
    server = Postgres()
    try:
        yield server
    finally:
        server.remove()
