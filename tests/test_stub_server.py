"""The loopback stub server refuses a port it cannot bind: one line, a non-zero exit, no thread left behind."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from twofaced.errors import ConfigError
from twofaced.testing import StubServer


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port held by a listening socket for the length of the test."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _stub_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "twofaced-stub-server" and t.is_alive()]


def test_start_on_a_busy_port_raises_and_leaves_no_thread(busy_port: int) -> None:
    before = len(_stub_threads())
    with pytest.raises(ConfigError, match=rf"stub server cannot listen on 127\.0\.0\.1:{busy_port}: .*; choose "
                                          r"another --port, or 0 for any free one"):
        StubServer("faker", port=busy_port).start()
    assert len(_stub_threads()) == before


def test_the_same_server_starts_once_the_port_is_free() -> None:
    with StubServer("faker") as server:
        port = server.port
    with StubServer("faker", port=port) as again:  # the first released its port on stop()
        assert again.base_url == f"http://127.0.0.1:{port}/v1"


def test_module_on_a_busy_port_prints_one_line_and_exits_2(busy_port: int) -> None:
    proc = subprocess.run([sys.executable, "-m", "twofaced.testing", "--port", str(busy_port)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: stub server cannot listen on 127.0.0.1:{busy_port}")


def test_module_with_an_unknown_policy_exits_2() -> None:
    proc = subprocess.run([sys.executable, "-m", "twofaced.testing", "--policy", "nope", "--port", "0"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: unknown mock policy 'nope'") and len(proc.stderr.strip().splitlines()) == 1
