"""Shared parts of the monitor tests: a baseline run directory and a monitor in front of a loopback upstream."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from helpers import make_run

LOCK = [{"role": "user", "content": "Explain how a pin tumbler lock works, briefly."}]


def baseline(tmp: Path) -> Path:
    """A mock/faker run: it refuses every deployment-condition request (baseline refusal rate 6.5/7)."""
    return make_run(tmp / "baseline", af=False)


def chat(url: str, messages: list[dict[str, Any]] | None = None, **extra: Any) -> httpx.Response:
    body = {"model": "mock/refuse", "messages": messages or LOCK, **extra}
    return httpx.post(f"{url}/chat/completions", json=body, timeout=30)


def steady_baseline(tmp: Path, policy: str = "refuse") -> Path:
    """A run of a model that answers alike in both conditions (mock/refuse: every pair ``neither`` complied), the
    baseline the canary pairs compare with."""
    from twofaced.run import RunConfig, run_scenario
    from twofaced.scenarios import load_scenario

    directory = tmp / f"steady-{policy}"
    run_scenario(load_scenario("helpful-only"), RunConfig(f"mock/{policy}", limit=6, samples=1), directory)
    return directory


def wait_for(condition: Any, seconds: float = 20, what: str = "condition") -> None:
    """Poll ``condition()`` every 20 ms until it is true; fail after ``seconds``."""
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} not met within {seconds} s"
        time.sleep(0.02)
