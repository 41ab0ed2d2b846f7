"""Engine overhead: what twofaced's engine costs on top of the model's own latency, next to the alternatives.

What is measured, and why: a real evaluation is bound by the model server, so an engine should keep
``concurrency`` requests in flight and spend as little client CPU per item as it can; on a small machine that
CPU, not the network, is what caps throughput. Every row sends the same chat requests (the messages and
sampling parameters of ``helpful-only``, 160 requests x 2 conditions x 4 samples = 1,280 by default) to one
OpenAI-compatible stub server (a separate process on loopback, fixed reply delay) at the same concurrency, one
row after the other. The server is the stub's lean HTTP layer by default (``bench/_lean_http.py``: one
asyncio.Protocol, about a tenth of aiohttp.web's CPU per request), since client and server
share the cores and an aiohttp.web stub alone held the bare aiohttp client to ~80% of ideal; ``--server
aiohttp`` measures against the aiohttp.web stub (``python -m twofaced.testing``) as before.

  ideal       items / (concurrency / delay): the wall time if the client cost nothing.
  aiohttp     a bare semaphore loop of aiohttp POSTs (JSON in and out): the floor for a Python client.
  twofaced    ``run_scenario_async`` with the ``openai/`` backend: expansion, content hashing, rendering,
              SQLite storage, continuation checks, judging and the summary, all of it.
  inspect     Inspect AI's ``eval()`` on the same prompts (``bench/_inspect_row.py``, bench venv).
  openai-sdk  the openai SDK's ``AsyncOpenAI`` in a bare loop (bench venv), for reference.

Columns: wall seconds; throughput; fraction of ideal (ideal wall / wall); client CPU seconds
(``time.process_time`` around the measured call, in whichever process ran it, imports excluded) and per item;
overhead per sample, ``(wall - ideal wall) / items * concurrency`` in ms (the latency the client adds to each
request slot); and the stub server's CPU seconds during the row (from /proc), since both share the 2 cores.

Targets (docs/benchmarks.md): twofaced >= 90% of ideal at concurrency 64 and 100 ms, and a per-sample
overhead at most one fifth of Inspect's.

    .venv/bin/python bench/engine_overhead.py [--n 1280] [--concurrency 64] [--delay 0.1] [--repeat 3]
        [--server lean|aiohttp] [--skip-inspect] [--inspect-python bench/.venv/bin/python] [--profile FILE] [--json]

Each row runs ``--repeat`` times, interleaved, and its median run (by wall time) is reported: on a shared
2-core VM single runs of a 2-second row vary by 10-20%. The inspect and openai-sdk rows run
``bench/_inspect_row.py`` with the bench venv's python and are skipped, with a message, where it is absent.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

import twofaced
from twofaced import RunConfig, load_scenario, run_scenario_async
from twofaced.run import expand

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_INSPECT_PYTHON = BENCH_DIR / ".venv" / "bin" / "python"
SCENARIO = "helpful-only"
MODEL_NAME = "stub"


@dataclass
class Row:
    name: str
    items: int
    wall_s: float
    cpu_s: float | None = None
    server_cpu_s: float | None = None
    errors: int = 0
    note: str = ""
    other_cpu_s: float | None = None  # CPU of other processes on the machine during the row

    def derived(self, ideal_wall_per_item: float, concurrency: int) -> dict[str, Any]:
        ideal, per_item = self.items * ideal_wall_per_item, 1e3 / self.items if self.items else None
        return {
            "items_per_s": self.items / self.wall_s,
            "fraction_of_ideal": ideal / self.wall_s,
            "cpu_ms_per_item": None if self.cpu_s is None or per_item is None else self.cpu_s * per_item,
            "overhead_ms_per_sample": None if per_item is None else (self.wall_s - ideal) * concurrency * per_item,
        }


# -- the stub server -------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_stub(delay: float, server: str = "lean") -> tuple[subprocess.Popen[str], dict[str, str]]:
    """Start the stub server in its own process; return it and its start-up line (base_url, server, loop)
    once it is listening."""
    serve = [str(BENCH_DIR / "_lean_http.py")] if server == "lean" else ["-m", "twofaced.testing"]
    cmd = [sys.executable, *serve, "--policy", "faker", "--delay", str(delay), "--port", str(_free_port())]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the server prints {"base_url": ...} once it listens
    if not line:
        proc.kill()
        raise SystemExit(f"stub server did not start: {' '.join(cmd)}")
    return proc, json.loads(line)


def _proc_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a live process (Linux /proc), or None where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _busy_cpu() -> float | None:
    """CPU seconds all processes on the machine have used (Linux /proc/stat), or None where unavailable."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _others(busy0: float | None, busy1: float | None, *ours: float | None) -> float | None:
    """CPU that processes other than the client and the stub used during a row: on a shared VM, the noise."""
    if busy0 is None or busy1 is None or any(x is None for x in ours):
        return None
    return max(0.0, busy1 - busy0 - sum(x for x in ours if x is not None))


# -- the workload ----------------------------------------------------------------------------------------
def workload(n: int) -> tuple[RunConfig, list[dict[str, Any]]]:
    """The twofaced run config for ``n`` items and the exact (messages, params) of each of its requests."""
    scenario = load_scenario(SCENARIO)
    samples = 4
    while n > 2 * samples * len(scenario.requests):
        samples *= 2
    if n % (2 * samples):
        raise SystemExit(f"--n must be a multiple of {2 * samples} (2 conditions x {samples} samples)")
    config = RunConfig(f"openai/{MODEL_NAME}", limit=n // (2 * samples), samples=samples)
    work = [{"messages": json.loads(r[9]), "params": json.loads(r[10]), "sample": r[8]}
            for r in expand(scenario, config)]
    assert len(work) == n
    return config, work


# -- the rows --------------------------------------------------------------------------------------------
async def raw_aiohttp(base_url: str, work: list[dict[str, Any]], concurrency: int) -> tuple[int, int]:
    url, sem = f"{base_url}/chat/completions", asyncio.Semaphore(concurrency)
    headers = {"Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def one(w: dict[str, Any]) -> bool:
            body = json.dumps({"model": MODEL_NAME, "messages": w["messages"], **w["params"]}).encode()
            async with sem, session.post(url, data=body) as resp:
                data = json.loads(await resp.read())
            return bool(data["choices"][0]["message"]["content"])

        ok = await asyncio.gather(*(one(w) for w in work))
    return sum(ok), len(ok) - sum(ok)


async def twofaced_engine(base_url: str, config: RunConfig, concurrency: int) -> tuple[int, int]:
    with tempfile.TemporaryDirectory(prefix="twofaced-bench-") as out:
        outcome = await run_scenario_async(load_scenario(SCENARIO), config, out, concurrency=concurrency,
                                           model_options={"base_url": base_url})
    return outcome.execution.done, outcome.execution.failed


def measure(name: str, server_pid: int, call: Callable[[], tuple[int, int]]) -> Row:
    server0, busy0 = _proc_cpu(server_pid), _busy_cpu()
    cpu0, t0 = time.process_time(), time.perf_counter()
    items, errors = call()
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    server1, busy1 = _proc_cpu(server_pid), _busy_cpu()
    server = None if server0 is None or server1 is None else server1 - server0
    return Row(name, items, wall, cpu, server, errors, other_cpu_s=_others(busy0, busy1, cpu, server))


def subprocess_row(row: str, python: Path, server_pid: int, base_url: str, workload_path: Path,
                   concurrency: int, tmp: Path) -> Row | None:
    """Run one row of ``_inspect_row.py`` under the bench venv's python; its own timings are the row's.

    A failing row is reported on stderr and left out, so the other rows still print."""
    cmd = [str(python), str(BENCH_DIR / "_inspect_row.py"), "--row", row, "--base-url", base_url,
           "--workload", str(workload_path), "--concurrency", str(concurrency), "--log-dir", str(tmp / row)]
    env = {**os.environ, "INSPECT_LOG_DIR": str(tmp / row), "STUB_API_KEY": "stub"}
    usage0, server0, busy0 = resource.getrusage(resource.RUSAGE_CHILDREN), _proc_cpu(server_pid), _busy_cpu()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    usage1, server1, busy1 = resource.getrusage(resource.RUSAGE_CHILDREN), _proc_cpu(server_pid), _busy_cpu()
    if proc.returncode != 0:
        print(f"{row} row failed (exit {proc.returncode}), left out:\n{proc.stderr[-3000:]}", file=sys.stderr)
        return None
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    whole = (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
    server = None if server0 is None or server1 is None else server1 - server0
    # Other processes' CPU here spans the whole subprocess (start-up and imports too), not just the measured call.
    return Row(row, r["items"], r["wall_s"], r["cpu_s"], server, r["errors"],
               note=f"whole process with start-up and imports: {whole:.2f} s CPU",
               other_cpu_s=_others(busy0, busy1, whole, server))


# -- report ----------------------------------------------------------------------------------------------
def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(rows: list[dict[str, Any]]) -> str:
    head = ("row", "items", "wall s", "items/s", "of ideal", "client CPU s", "CPU ms/item",
            "overhead ms/sample", "server CPU s")
    body = [(r["name"], str(r["items"]), _fmt(r["wall_s"], ".2f"), _fmt(r["items_per_s"], ".0f"),
             _fmt(r["fraction_of_ideal"] * 100, ".1f") + "%", _fmt(r["cpu_s"], ".2f"),
             _fmt(r["cpu_ms_per_item"], ".2f"), _fmt(r["overhead_ms_per_sample"], ".1f"),
             _fmt(r["server_cpu_s"], ".2f")) for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *body, strict=True)]
    lines = ["| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                               enumerate(zip(cells, widths, strict=True))) + " |" for cells in (head, *body)]
    lines.insert(1, "|" + "|".join("-" * (w + 1) + (":" if i else "-") for i, w in enumerate(widths)) + "|")
    return "\n".join(lines)


def verdicts(by_name: dict[str, dict[str, Any]]) -> list[str]:
    """One line per target, plus twofaced against the aiohttp floor (what any Python client here could do)."""
    tf = by_name.get("twofaced")
    if tf is None:
        return []
    frac = tf["fraction_of_ideal"]
    out = [f"target twofaced >= 90% of ideal: {frac:.1%}, {'met' if frac >= 0.9 else 'MISSED'}"]
    floor = by_name.get("aiohttp")
    if floor is not None:
        out.append(f"twofaced reaches {floor['wall_s'] / tf['wall_s']:.1%} of the aiohttp floor's throughput "
                   f"(floor at {floor['fraction_of_ideal']:.1%} of ideal)")
    insp = by_name.get("inspect")
    for key, label in (("overhead_ms_per_sample", "overhead ms/sample"), ("cpu_ms_per_item", "CPU ms/item")):
        if insp is not None and tf[key] is not None and insp[key]:
            ratio = tf[key] / insp[key]
            out.append(f"target twofaced {label} <= 1/5 of Inspect's: {tf[key]:.2f} vs {insp[key]:.2f} = "
                       f"{ratio:.3f}x, {'met' if ratio <= 0.2 else 'MISSED'}")
    return out


def print_profile(profiler: cProfile.Profile, path: Path, top: int = 15) -> None:
    """Save the twofaced row's profile and print its top cumulative entries inside the twofaced package."""
    profiler.dump_stats(path)
    print(f"\ncProfile of the twofaced row (profiling inflates its times above); all stats in {path}, "
          f"read with: python -m pstats {path}")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(r"[/\\]twofaced[/\\]", top)


def median_row(runs: list[Row]) -> Row:
    """The run with the median wall time (the upper median for an even count), all walls in its note."""
    ordered = sorted(runs, key=lambda r: r.wall_s)
    chosen = ordered[len(ordered) // 2]
    if len(runs) > 1:
        walls = ", ".join(f"{r.wall_s:.2f}" for r in runs)
        chosen.note = "; ".join(filter(None, [f"median of {len(runs)} runs, wall s: {walls}", chosen.note]))
    others = [r.other_cpu_s for r in runs]
    if all(x is not None for x in others):
        listed = ", ".join(f"{x:.2f}" for x in others if x is not None)
        chosen.note = "; ".join(filter(None, [chosen.note, f"other processes' CPU s during each run: {listed}"]))
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description="twofaced engine overhead against a fixed-latency stub")
    parser.add_argument("--n", type=int, default=1280, help="chat requests per row (default 1280)")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight (default 64)")
    parser.add_argument("--delay", type=float, default=0.1, help="stub server reply delay, s (default 0.1)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per row, interleaved; the median run is reported (default 3)")
    parser.add_argument("--inspect-python", type=Path, default=DEFAULT_INSPECT_PYTHON,
                        help="python of the venv with inspect-ai and openai (default bench/.venv/bin/python)")
    parser.add_argument("--server", choices=("lean", "aiohttp"), default="lean",
                        help="the stub's HTTP layer: lean (asyncio.Protocol, default) or aiohttp (aiohttp.web)")
    parser.add_argument("--skip-inspect", action="store_true", help="skip the inspect and openai-sdk rows")
    parser.add_argument("--profile", type=Path, metavar="FILE",
                        help="cProfile the twofaced row, save the stats to FILE and print the top entries")
    parser.add_argument("--json", action="store_true", help="also print the results as one JSON object")
    args = parser.parse_args()

    config, work = workload(args.n)
    ideal_per_item = args.delay / args.concurrency
    profiler = cProfile.Profile() if args.profile else None
    use_inspect = not args.skip_inspect and args.inspect_python.exists()
    if args.skip_inspect:
        print("inspect and openai-sdk rows skipped (--skip-inspect)", file=sys.stderr)
    elif not use_inspect:
        print(f"inspect and openai-sdk rows skipped: {args.inspect_python} does not exist; create the bench "
              "venv (bench/README.md) or pass --inspect-python", file=sys.stderr)
    runs: dict[str, list[Row]] = {}
    server, stub = start_stub(args.delay, args.server)
    base_url = stub["base_url"]
    try:
        # Warm the server up (first-request code paths) so no row pays for it.
        asyncio.run(raw_aiohttp(base_url, work[: args.concurrency], args.concurrency))

        def run_aiohttp() -> tuple[int, int]:
            return asyncio.run(raw_aiohttp(base_url, work, args.concurrency))

        def run_twofaced() -> tuple[int, int]:
            return asyncio.run(twofaced_engine(base_url, config, args.concurrency))

        with tempfile.TemporaryDirectory(prefix="twofaced-bench-") as tmp_name:
            tmp = Path(tmp_name)
            (tmp / "workload.json").write_text(json.dumps(work), encoding="utf-8")
            for _ in range(max(1, args.repeat)):
                runs.setdefault("aiohttp", []).append(measure("aiohttp", server.pid, run_aiohttp))
                runs.setdefault("twofaced", []).append(measure(
                    "twofaced", server.pid, (lambda: profiler.runcall(run_twofaced)) if profiler else run_twofaced))
                for name in ("inspect", "openai-sdk") if use_inspect else ():
                    row = subprocess_row(name, args.inspect_python, server.pid, base_url, tmp / "workload.json",
                                         args.concurrency, tmp)
                    if row is not None:
                        runs.setdefault(name, []).append(row)
    finally:
        server.terminate()
        server.wait(10)

    rows = [Row("ideal", args.n, args.n * ideal_per_item), *(median_row(r) for r in runs.values())]
    results = [{**vars(r), **r.derived(ideal_per_item, args.concurrency)} for r in rows]
    print(f"{args.n} chat requests per row, concurrency {args.concurrency}, stub delay {args.delay * 1e3:.0f} ms,"
          f" stub server {stub.get('server', 'aiohttp')} ({stub.get('loop', 'asyncio')} loop),"
          f" {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, twofaced {twofaced.__version__}")
    print(table(results))
    for r in results:
        if r["errors"]:
            print(f"WARNING: {r['name']} had {r['errors']} failed items")
        if r["note"]:
            print(f"{r['name']}: {r['note']}")
    for line in verdicts({r["name"]: r for r in results}):
        print(line)
    if args.json:
        print(json.dumps({"n": args.n, "concurrency": args.concurrency, "delay_s": args.delay, "server": args.server,
                          "repeat": args.repeat, "cpus": os.cpu_count(), "rows": results}))
    if profiler is not None:
        print_profile(profiler, args.profile)


if __name__ == "__main__":
    main()
