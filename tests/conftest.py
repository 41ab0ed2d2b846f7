"""Shared fixtures: an isolated environment for every test, and real loopback stub servers."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from twofaced.testing import StubServer

_ENV_VARS = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """No credentials, endpoints or TWOFACED_* settings leak in from the developer's shell; cwd is tmp_path."""
    for name in _ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("TWOFACED_"):
            monkeypatch.delenv(name)
    # `twofaced --debug` writes TWOFACED_DEBUG straight into os.environ; register it with monkeypatch so it is
    # removed again after the test whatever the test did.
    monkeypatch.setenv("TWOFACED_DEBUG", "")
    monkeypatch.delenv("TWOFACED_DEBUG")
    # Organisms built by tests go to a per-test data directory, never the developer's.
    monkeypatch.setenv("TWOFACED_HOME", str(tmp_path / "twofaced-home"))
    # Plugins installed in the developer's environment (tests/plugin) stay out of tests that list registries;
    # tests/test_plugins.py sets its own environment.
    monkeypatch.setenv("TWOFACED_PLUGINS", "")
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def stub_server() -> Iterator[StubServer]:
    """One shared faker server with no delay. Its counters are shared: assert on differences only."""
    with StubServer("faker") as server:
        yield server


@pytest.fixture
def make_server() -> Iterator[Callable[..., StubServer]]:
    """Factory for servers with custom policy, delay or failure injection; all are stopped after the test."""
    started: list[StubServer] = []

    def make(policy: str = "faker", **kwargs) -> StubServer:
        server = StubServer(policy, **kwargs).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
