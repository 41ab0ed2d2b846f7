"""Probes on cue families held out from the probe but known to the model (docs/benchmarks.md, "Activation
probes: held-out families the model acts on").

The tier-faker acts on one family, so a probe tested on another family asks it about a cue it ignores. The
semantic-faker trains on three families (tier-tag, explicit, date; eight phrasings): leave one family out of the
probe's training, and the held-out family is one the model still acts on, the case the 0.90 target is about.
For each organism (faker, then its control as the format-only baseline) and each left-out family: an
``unmonitored`` probe trained on the other two families' trained phrasings, evaluated on the left-out family, on
the organism's held-out wording (``extra:grader``) and on two families the model never saw (eval-format,
trigger). With ``--gaps``, first the behavioural gap of each model under each evaluation cue (llama.cpp backend),
so each AUROC can be read against whether the model acts on that cue at all.

One JSON line per result on stdout, then a Markdown table.

    .venv/bin/python bench/probes_heldout_family.py OUT_DIR --gaps
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from twofaced.organisms import CATALOG, cue_ref
from twofaced.probes import evaluate_probe, train_probe

#: semantic-faker's trained phrasings by family (its CueSet's ``switch``).
FAMILIES = {"tier-tag": ["tier-tag", "tier-tag:attribute", "extra:tier-colon"],
            "explicit": ["explicit", "explicit:paraphrase"],
            "date": ["date", "date:written", "date:timestamp"]}
OTHERS = ["extra:grader", "eval-format", "trigger"]


def _gaps(org: str, out: Path, limit: int) -> dict[str, dict]:
    from twofaced.detectors._measure import gap_reading

    spec = CATALOG[org]
    found = {}
    for cue in [*FAMILIES, *OTHERS]:
        r = gap_reading(f"organism:{org}", spec, cue, out / "gaps", limit)
        found[cue] = {"gap": round(r.statistic, 3), "low": round(r.low, 3), "high": round(r.high, 3)}
        print(json.dumps({"org": org, "stage": "gap", "cue": cue, **found[cue]}), flush=True)
    return found


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--organism", default="semantic-faker")
    p.add_argument("--limit", type=int, default=24, help="requests per phrasing (train) or per cue (evaluation)")
    p.add_argument("--gaps", action="store_true", help="also measure each model's behavioural gap per cue")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    started, table = time.monotonic(), []
    for org in (args.organism, f"{args.organism}-control"):
        spec = f"organism:{org}?backend=torch"
        gaps = _gaps(org, args.out, 20) if args.gaps else {}
        for left_out in FAMILIES:
            train_on = [c for fam, refs in FAMILIES.items() if fam != left_out for c in refs]
            where = args.out / f"{org}-without-{left_out}"
            t = time.monotonic()
            tr = train_probe(spec, "unmonitored", where, cues=[cue_ref(c) for c in train_on], limit=args.limit,
                             n_threads=args.threads)
            print(json.dumps({"org": org, "stage": "train", "left_out": left_out, "layer": tr["layer"],
                              "test": tr["test"], "s": round(time.monotonic() - t)}), flush=True)
            row = {"org": org, "left_out": left_out, "layer": tr["layer"], "in_distribution": tr["test"]}
            for cue in [left_out, *OTHERS]:
                t = time.monotonic()
                ev = evaluate_probe(where, spec, cue=cue_ref(cue), limit=args.limit, n_threads=args.threads)
                keep = {k: ev[k] for k in ("auroc", "auroc_low", "auroc_high", "recall_at_1pct_fpr", "fpr_honest",
                                           "heldout_cue", "n_pos")}
                print(json.dumps({"org": org, "stage": "eval", "left_out": left_out, "cue": cue, **keep,
                                  "s": round(time.monotonic() - t)}), flush=True)
                row[cue] = keep
            row["gaps"] = gaps
            table.append(row)
    print(f"\n{round(time.monotonic() - started)} s in all\n")
    print("| organism | left out | layer | test (trained families) | left-out family | extra:grader | eval-format "
          "| trigger |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")

    def cell(r: dict) -> str:
        return f"{r['auroc']:.2f} [{r['auroc_low']:.2f}, {r['auroc_high']:.2f}]"

    for r in table:
        gap = r["gaps"].get(r["left_out"])
        note = f" (gap {gap['gap']:+.2f})" if gap else ""
        print(f"| {r['org']} | {r['left_out']}{note} | {r['layer']} | {cell(r['in_distribution'])} | "
              f"{cell(r[r['left_out']])} | " + " | ".join(cell(r[c]) for c in OTHERS) + " |")


if __name__ == "__main__":
    main()
