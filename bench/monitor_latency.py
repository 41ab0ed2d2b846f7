"""The latency ``twofaced monitor serve`` adds to each request, next to LiteLLM's proxy, in one run.

One loopback stub upstream (``_loopback.py``: the lean HTTP layer of ``_lean_http.py`` with precomputed plain
and SSE replies, no JSON work, the cheapest stub here) answers three paths: **direct** (the load generator to
the stub), **monitor** (``twofaced monitor serve`` as a real subprocess, scoring on: the default judge, a
SQLite store in a temporary directory, a mock/faker baseline run) and **litellm** (LiteLLM's proxy, one
worker, an ``openai/stub`` model at the stub, master key, offline cost map; from ``tools/litellm_env.py``).
Per path: an open-loop load (``_loopback.open_loop``: requests at fixed times whatever the answers do, timed
from their scheduled start) at 50 and 200 requests per second, plain and ``stream: true``, then a ramp (x1.5,
then one step back between the last pass and the first failure) to the highest rate sustained: no error,
achieved >= 95% of offered, p99 <= ``--p99-bound``. The direct path is measured at every rate a proxy is
reported at; **added** latency is the proxy's quantile minus the direct one at the same rate and kind.

Cores (``--pin``, the default): the proxy under test gets CPU 1 alone; the load generator (this process,
uvloop) and the stub share CPU 0. So the sustained rate is one worker on one core, for both proxies. The
proxy's CPU per request is its process tree's user+system time (psutil) from the start of the point until
its scoring queue is empty again, over the answers. For the monitor, ``/healthz`` and ``/metrics`` after each
point say whether scoring kept up: exchanges unscored (queue full), the queue left when the load stopped, and
how long it took to drain.

    .venv/bin/python bench/monitor_latency.py            # ~4 minutes: 6 s per point
    .venv/bin/python bench/monitor_latency.py --quick    # ~1.5 minutes: 2 s per point
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

from _latency import (  # noqa: E402
    Points,
    Target,
    free_port,
    get,
    ms,
    pin_cores,
    pinned,
    ramp,
    start_stub,
    stop,
    sustained,
    wait_http,
)
from _loopback import Point, quantile  # noqa: E402

MASTER_KEY = "sk-bench"


def make_baseline(directory: Path) -> Path:
    from twofaced.run import RunConfig, run_scenario
    from twofaced.scenarios import load_scenario

    run_scenario(load_scenario("helpful-only"), RunConfig("mock/faker", limit=6, samples=1), directory)
    return directory


def start_monitor(stub: int, tmp: Path, cpu: int | None, log: Path) -> Target:
    port = free_port()
    cmd = [sys.executable, "-m", "twofaced.cli", "monitor", "serve", "--upstream", f"http://127.0.0.1:{stub}/v1",
           "--baseline", str(make_baseline(tmp / "baseline")), "--store", f"sqlite:///{tmp / 'monitor.sqlite'}",
           "--port", str(port)]
    proc = subprocess.Popen(pinned(cmd, cpu), stdout=log.open("wb"), stderr=subprocess.STDOUT)
    wait_http(f"http://127.0.0.1:{port}/healthz", proc, 60, "twofaced monitor serve")
    return Target("monitor", port, proc)


def start_litellm(python: str, stub: int, tmp: Path, cpu: int | None, log: Path) -> Target:
    port = free_port()
    config = tmp / "litellm.yaml"
    config.write_text(
        "model_list:\n  - model_name: stub\n    litellm_params:\n      model: openai/stub\n"
        f"      api_base: http://127.0.0.1:{stub}/v1\n      api_key: sk-stub\n"
        f"general_settings:\n  master_key: {MASTER_KEY}\n")
    litellm = str(Path(python).parent / "litellm")
    env = os.environ | {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_MASTER_KEY": MASTER_KEY,
                        "LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False"}
    cmd = [litellm, "--config", str(config), "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"]
    proc = subprocess.Popen(pinned(cmd, cpu), stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env)
    wait_http(f"http://127.0.0.1:{port}/health/liveliness", proc, 180, "litellm")
    return Target("litellm", port, proc, {"Authorization": f"Bearer {MASTER_KEY}"})


def monitor_state(port: int) -> dict[str, float]:
    health = json.loads(get(f"http://127.0.0.1:{port}/healthz"))
    scored = 0.0
    for line in get(f"http://127.0.0.1:{port}/metrics").decode().splitlines():
        if line.startswith("twofaced_monitor_exchanges_scored_total"):
            scored = float(line.split()[-1])
    return {"unscored": health["unscored"], "queue": health["queue"], "scored": scored}


@dataclass
class Row:
    path: str
    kind: str
    rate: float
    point: Point
    cpu_ms: float | None = None
    scoring: str = ""
    added: tuple[float, float, float] | None = None  # p50, p99, first byte p50 minus direct's

    def ok(self, bound_ms: float) -> bool:
        return sustained(self.point, bound_ms)


class Bench:
    def __init__(self, seconds: float, bound_ms: float) -> None:
        self.seconds, self.bound_ms = seconds, bound_ms
        self.points = Points()
        self.rows: list[Row] = []

    def measure(self, target: Target, kind: str, rate: float, *, seconds: float | None = None,
                keep: bool = True) -> Row:
        before_state = monitor_state(target.port) if target.name == "monitor" else None
        cpu0 = target.cpu()
        point = self.points.run(target, kind, rate, seconds or self.seconds)
        row = Row(target.name, kind, rate, point)
        if before_state is not None:  # the CPU of scoring what was queued counts too
            row.scoring = self._scoring(target.port, before_state, len(point.latency))
        if target.proc is not None:
            row.cpu_ms = 1000 * (target.cpu() - cpu0) / max(1, len(point.latency))
        if keep:
            self.rows.append(row)
            print(self.line(row), flush=True)
        return row

    def _scoring(self, port: int, before: dict[str, float], answered: int) -> str:
        """'kept up' or what fell behind: unscored (queue full), the queue when the load stopped and its drain."""
        after = monitor_state(port)
        queued, started = after["queue"], time.perf_counter()
        state = after
        while state["queue"] > 0 and time.perf_counter() - started < 60:
            time.sleep(0.1)
            state = monitor_state(port)
        drain = time.perf_counter() - started
        unscored = int(state["unscored"] - before["unscored"])
        if unscored == 0 and queued <= max(10, 0.02 * answered):
            return "kept up"
        rate = (state["scored"] - after["scored"]) / drain if drain > 0.2 else float("nan")
        return f"behind: {unscored} unscored, queue {int(queued)} drained in {drain:.1f} s ({rate:.0f}/s)"

    def line(self, row: Row) -> str:
        p = row.point
        added = "" if row.added is None else " | ".join(ms(a) for a in row.added)
        cpu = "-" if row.cpu_ms is None else f"{row.cpu_ms:.2f}"
        return (f"| {row.path} | {row.kind} | {row.rate:.0f} | {p.achieved:.0f} | {len(p.latency)} | {p.errors} | "
                f"{ms(quantile(p.latency, 0.5))} | {ms(quantile(p.latency, 0.99))} | "
                f"{ms(quantile(p.ttfb, 0.5))} | {added or ' | '.join('' for _ in range(3))} | {cpu} | "
                f"{row.scoring or '-'} |")

    def ramp(self, target: Target, passed_200: bool, max_rate: float) -> Row | None:
        """Highest rate with :meth:`Row.ok`: x1.5 steps from 200 (or from 10 when 200 failed), then one step back."""
        def step(rate: float) -> tuple[bool, Row]:
            row = self.measure(target, "plain", rate)
            return row.ok(self.bound_ms), row

        known: tuple[float, Row] | None = None
        if passed_200:
            row = next(r for r in self.rows if r.path == target.name and r.kind == "plain" and r.rate == 200)
            known = (row.rate, row)
        best = ramp(step, 300.0 if passed_200 else 10.0, 1.5, max_rate, known)
        return None if best is None else best[1]


HEADER = ("| path | kind | offered rps | achieved rps | answers | errors | p50 ms | p99 ms | first byte p50 ms | "
          "added p50 ms | added p99 ms | added first byte p50 ms | proxy CPU ms/req | scoring |\n"
          "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")


def _litellm_python(given: str | None) -> str | None:
    if given:
        return given
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "litellm_env.py"), "--check"], capture_output=True)
    if done.returncode != 0:
        return None
    return subprocess.run([sys.executable, str(ROOT / "tools" / "litellm_env.py")], capture_output=True,
                          text=True).stdout.strip() or None


def run(args: argparse.Namespace) -> dict[str, Any]:
    pin, gen_cpu, proxy_cpu = pin_cores(args.no_pin)
    tmp = Path(tempfile.mkdtemp(prefix="twofaced-monitor-bench-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        stub_proc, stub = start_stub(gen_cpu)
        procs.append(stub_proc)
        targets = [Target("direct", stub)]
        monitor = start_monitor(stub, tmp, proxy_cpu, tmp / "monitor.log")
        assert monitor.proc is not None
        procs.append(monitor.proc)
        targets.append(monitor)
        python = None if args.no_litellm else _litellm_python(args.litellm_python)
        if python is None and not args.no_litellm:
            print("litellm: no env (python tools/litellm_env.py makes it); its rows are skipped", file=sys.stderr)
        if python is not None:
            litellm = start_litellm(python, stub, tmp, proxy_cpu, tmp / "litellm.log")
            assert litellm.proc is not None
            procs.append(litellm.proc)
            targets.append(litellm)
        bench = Bench(args.seconds, args.p99_bound)
        print(HEADER, flush=True)
        for target in targets:
            bench.measure(target, "plain", 50, seconds=1.5, keep=False)  # warm-up: connections, caches
            bench.measure(target, "stream", 20, seconds=1.0, keep=False)
            for kind in ("plain", "stream"):
                for rate in args.rates:
                    bench.measure(target, kind, rate)
        best_rows: dict[str, Row | None] = {}
        for target in targets[1:]:
            passed = any(r.path == target.name and r.kind == "plain" and r.rate == 200 and r.ok(args.p99_bound)
                         for r in bench.rows)
            best_rows[target.name] = bench.ramp(target, passed, args.max_rate)
        for rate in sorted({r.rate for r in bench.rows if r.path != "direct"} - set(args.rates)):
            bench.measure(targets[0], "plain", rate)
        direct = {(r.kind, r.rate): r.point for r in bench.rows if r.path == "direct"}
        for row in bench.rows:
            d = direct.get((row.kind, row.rate))
            if row.path != "direct" and d is not None:
                p = row.point
                row.added = (quantile(p.latency, 0.5) - quantile(d.latency, 0.5),
                             quantile(p.latency, 0.99) - quantile(d.latency, 0.99),
                             quantile(p.ttfb, 0.5) - quantile(d.ttfb, 0.5))
        print("\nTable (added = the proxy's quantile minus the direct path's at the same rate and kind):\n")
        print(HEADER)
        for row in bench.rows:
            print(bench.line(row))
        print()
        for name, found in best_rows.items():
            print(f"{name}: highest sustained rate {'none' if found is None else f'{found.rate:.0f}'} requests/s "
                  f"(no error, >= 95% achieved, p99 <= {args.p99_bound:.0f} ms; proxy pinned to "
                  f"{'CPU 1' if pin else 'any CPU'})")
        return {"pinned": pin, "seconds": args.seconds, "p99_bound_ms": args.p99_bound,
                "best": {k: None if v is None else v.rate for k, v in best_rows.items()},
                "rows": [{"path": r.path, "kind": r.kind, "rate": r.rate, "achieved": r.point.achieved,
                          "answers": len(r.point.latency), "errors": r.point.errors,
                          "p50_ms": 1000 * quantile(r.point.latency, 0.5),
                          "p99_ms": 1000 * quantile(r.point.latency, 0.99),
                          "ttfb_p50_ms": 1000 * quantile(r.point.ttfb, 0.5),
                          "added_ms": None if r.added is None else [1000 * a for a in r.added],
                          "cpu_ms": r.cpu_ms, "scoring": r.scoring} for r in bench.rows]}
    finally:
        stop(procs)
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 s per point instead of --seconds")
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each measured point (6)")
    parser.add_argument("--rates", type=float, nargs="+", default=[50.0, 200.0], help="fixed rates (50 200)")
    parser.add_argument("--p99-bound", type=float, default=50.0, help="ms; a sustained rate keeps p99 under it")
    parser.add_argument("--max-rate", type=float, default=6000.0, help="the ramp stops here (6000)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the proxy to CPU 1 and the rest to 0")
    parser.add_argument("--no-litellm", action="store_true", help="skip LiteLLM's rows")
    parser.add_argument("--litellm-python", help="a python with litellm[proxy] (default: tools/litellm_env.py)")
    parser.add_argument("--json", action="store_true", help="also print one JSON object")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds = 2.0
    result = run(args)
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
