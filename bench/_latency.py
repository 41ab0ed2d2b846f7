"""What the proxy-latency benchmarks share (``monitor_latency.py``, ``monitor_server.py``): the processes under
test and their CPU, core pinning, one open-loop point at a target, the rule for a sustained rate, the ramp that
finds the highest one, and the millisecond format of their tables.

Every script pins the same way (the process under test on CPU 1 alone, the load generator and the stub on CPU 0)
and judges a rate by the same rule (:func:`sustained`), so their figures compare. The load itself is
``_loopback.py``'s: open loop, timed from each request's scheduled start.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psutil  # type: ignore[import-untyped,unused-ignore]

from _loopback import Point, Pool, http_request, new_loop, open_loop, quantile

BENCH = Path(__file__).resolve().parent
MESSAGES = [{"role": "user", "content": "Explain how a pin tumbler lock works, briefly."}]
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(cmd: list[str], cpu: int | None) -> list[str]:
    return ["taskset", "-c", str(cpu), *cmd] if cpu is not None and shutil.which("taskset") else cmd


def pin_cores(no_pin: bool) -> tuple[bool, int | None, int | None]:
    """Whether to pin, and the CPUs of the load generator and of the process under test; pins this process (the
    load generator) to CPU 0 when pinning."""
    pin = not no_pin and (os.cpu_count() or 1) >= 2
    gen_cpu, server_cpu = (0, 1) if pin else (None, None)
    if pin:
        os.sched_setaffinity(0, {0})
    return pin, gen_cpu, server_cpu


def get(url: str, headers: dict[str, str] | None = None, timeout: float = 2.0) -> bytes:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=timeout) as r:
        return bytes(r.read())


def wait_http(url: str, proc: subprocess.Popen[bytes], seconds: float, what: str,
              headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with status {proc.returncode} before answering {url}")
        try:
            get(url, headers)
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{what} did not answer {url} within {seconds:.0f} s")


def stop(procs: Iterable[subprocess.Popen[bytes]]) -> None:
    """Terminate the processes, newest first, and kill one that has not exited after 15 s."""
    procs = list(reversed(list(procs)))
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


@dataclass
class Target:
    name: str
    port: int
    proc: subprocess.Popen[bytes] | None = None
    headers: dict[str, str] | None = None

    def cpu(self) -> float:
        """User+system CPU seconds of the process and its children so far (0 for the direct path)."""
        if self.proc is None:
            return 0.0
        try:
            p = psutil.Process(self.proc.pid)
            procs = [p, *p.children(recursive=True)]
            return sum(t.user + t.system for t in (q.cpu_times() for q in procs))
        except psutil.Error:
            return float("nan")


def start_stub(cpu: int | None) -> tuple[subprocess.Popen[bytes], int]:
    proc = subprocess.Popen(pinned([sys.executable, str(BENCH / "_loopback.py"), "--port", "0"], cpu),
                            stdout=subprocess.PIPE)
    assert proc.stdout is not None
    return proc, int(json.loads(proc.stdout.readline())["port"])


class Points:
    """The load generator's event loop and one connection pool per target; :meth:`run` takes one point."""

    def __init__(self) -> None:
        self.loop = new_loop()
        self.pools: dict[str, Pool] = {}

    def run(self, target: Target, kind: str, rate: float, seconds: float) -> Point:
        """One open-loop point of chat requests (``kind``: "plain" or "stream") at ``rate`` for ``seconds``."""
        pool = self.pools.setdefault(target.name, Pool(target.port))
        body: dict[str, Any] = {"model": "stub", "messages": MESSAGES}
        if kind == "stream":
            body["stream"] = True
        request = http_request(target.port, "/v1/chat/completions", json.dumps(body).encode(), target.headers)
        return self.loop.run_until_complete(open_loop(pool, request, rate, seconds))


def sustained(point: Point, bound_ms: float) -> bool:
    """The rule for a sustained rate: no error, achieved >= 95% of offered, p99 <= ``bound_ms``."""
    p99_ms = 1000 * quantile(point.latency, 0.99)
    return point.errors == 0 and point.achieved >= 0.95 * point.rate and p99_ms <= bound_ms


def ramp(step: Callable[[float], tuple[bool, T]], start: float, factor: float, max_rate: float,
         best: tuple[float, T] | None = None) -> tuple[float, T] | None:
    """The highest rate that passes, with what ``step`` (one point at a rate: passed, and its result) gave there:
    x ``factor`` steps from ``start`` up to ``max_rate``, then one step back, at the geometric middle between the
    last pass and the first failure. ``best``: a pass already known below ``start``."""
    rate, failed = start, None
    while rate <= max_rate:
        passed, result = step(rate)
        if not passed:
            failed = rate
            break
        best, rate = (rate, result), rate * factor
    if failed is not None and best is not None:
        middle = round((best[0] * failed) ** 0.5)
        passed, result = step(middle)
        if passed:
            best = (middle, result)
    return best


def ms(seconds: float) -> str:
    """Seconds as the tables' milliseconds."""
    return f"{1000 * seconds:.2f}"
