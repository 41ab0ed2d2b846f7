"""Delay vs false-alarm rate of the monitor's Bernoulli CUSUM: measured on simulated streams, next to theory.

For each design (in-control rate p0, changed rate p1, target exchanges per false alarm N) it calls
``twofaced.stats.simulate`` (the same call as ``twofaced monitor simulate --json``) and prints one Markdown row:
the threshold, the exact ARL0 and the measured one, the exact zero-state delay, the measured delay with its 95%
interval, their gap, and Siegmund's approximation. Deterministic for a given ``--seed``.

    python bench/cusum_delay.py [--runs 2000] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

from twofaced.stats import simulate

DESIGNS = [(p0, round(p0 + 0.1, 2)) for p0 in (0.02, 0.1, 0.3, 0.5)] + [(0.3, 0.2)]
TARGETS = (1_000, 10_000, 100_000)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print("| p0 → p1 | N | h (nats) | ARL0 exact | ARL0 measured (runs) | delay exact | delay measured [95% CI] "
          "| gap | Siegmund delay |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    start = time.perf_counter()
    for p0, p1 in DESIGNS:
        for n in TARGETS:
            s = simulate(p0, p1, n, runs=args.runs, seed=args.seed)
            lo, hi = s.measured_delay_ci
            print(f"| {p0:g} → {p1:g} | {n:,} | {s.threshold:.3f} | {s.theoretical_arl0:,.0f} | "
                  f"{s.measured_arl0:,.0f} ± {s.measured_arl0_se:,.0f} ({s.arl0_runs:,}) | {s.theoretical_delay:.1f} | "
                  f"{s.measured_delay:.1f} [{lo:.1f}, {hi:.1f}] | {100 * s.delay_gap:+.1f}% | {s.siegmund_delay:.1f} |",
                  flush=True)
    print(f"\n{len(DESIGNS) * len(TARGETS)} designs, {args.runs} runs each, seed {args.seed}: "
          f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
