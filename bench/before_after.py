"""The engine before and after a change, side by side in one run: ``bench/engine_overhead.py``'s twofaced row
against the twofaced of another git revision (default: the last commit before the architecture refactor).

Why: a refactor must not make the engine slower, and on a shared 2-core VM two separate runs of a 2-second row
differ by 10-20%, so the two versions run interleaved, round after round, each against its own fresh stub
server, and the medians are compared. Both use this tree's benchmark script; only ``twofaced`` differs (the
other revision's ``src/`` comes first on PYTHONPATH, and each round checks which copy it imported).

    .venv/bin/python bench/before_after.py [--base e723366] [--rounds 5] [--n 1280] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE = "e723366"  # benchmarks: bench/organisms.py on the shipped silent-faker ... (before issue 12)


def _round(src: Path, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    where = subprocess.run([sys.executable, "-c", "import twofaced; print(twofaced.__file__)"], env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    if not where.startswith(str(src)):
        raise SystemExit(f"PYTHONPATH={src} imported twofaced from {where}; cannot compare")
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "engine_overhead.py"), "--skip-inspect", "--repeat",
                          "1", "--json", "--n", str(args.n), "--concurrency", str(args.concurrency)],
                         env=env, capture_output=True, text=True, check=True).stdout
    rows = json.loads(out.strip().splitlines()[-1])["rows"]
    return {r["name"]: r for r in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=BASE, help=f"git revision to compare against (default {BASE})")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per version (default 5)")
    parser.add_argument("--n", type=int, default=1280)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="twofaced-base-") as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base), args.base], check=True,
                       capture_output=True)
        try:
            versions = {f"before ({args.base})": base / "src", "after (this tree)": ROOT / "src"}
            results: dict[str, list[dict[str, dict[str, float]]]] = {k: [] for k in versions}
            for i in range(args.rounds):
                for name, src in versions.items():
                    results[name].append(_round(src, args))
                    print(f"round {i + 1}/{args.rounds} {name}: twofaced "
                          f"{results[name][-1]['twofaced']['wall_s']:.2f} s", file=sys.stderr)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False)
    print(f"{args.n} requests, concurrency {args.concurrency}, {args.rounds} interleaved rounds, medians")
    print(f"{'version':<24} {'row':<9} {'wall s':>7} {'% ideal':>8} {'cpu s':>6} {'cpu ms/item':>11}")
    for name, rounds in results.items():
        for row in ("aiohttp", "twofaced"):
            wall = statistics.median(r[row]["wall_s"] for r in rounds)
            frac = statistics.median(r[row]["fraction_of_ideal"] for r in rounds)
            cpu = statistics.median(r[row]["cpu_s"] for r in rounds)
            print(f"{name:<24} {row:<9} {wall:>7.2f} {100 * frac:>7.1f}% {cpu:>6.2f} {1e3 * cpu / args.n:>11.3f}")


if __name__ == "__main__":
    main()
