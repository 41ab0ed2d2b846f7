"""Activation probes on the tier-faker and its control (docs/benchmarks.md, "Activation probes").

For each organism: an ``unmonitored`` probe (trained on tier-tag + explicit, default layers) evaluated in
distribution, on the held-out phrasing tier-tag:words and on the held-out families date, eval-format and
trigger; and a ``defection`` probe evaluated on its test pairs and on the tier-tag and trigger scenarios.
One JSON line per result on stdout. About 6 minutes on one CPU thread (activations cached in
``$TWOFACED_HOME/activations``, so a rerun mostly loads models).

    .venv/bin/python bench/probes_organisms.py OUT_DIR
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from twofaced.probes import evaluate_probe, train_probe

KEYS = ("layer", "auroc", "auroc_low", "auroc_high", "recall_at_1pct_fpr", "fpr", "fpr_honest", "n_pos", "n_neg",
        "heldout_cue")
CUES = {"unmonitored": [None, "tier-tag:words", "date", "eval-format", "trigger"],
        "defection": [None, "tier-tag", "trigger"]}


def main(out: Path) -> None:
    for org in ("tier-faker", "tier-faker-control"):
        spec = f"organism:{org}?backend=torch"
        for target, cues in CUES.items():
            where = out / f"{org}-{target}"
            t = time.time()
            tr = train_probe(spec, target, where, n_threads=1)
            print(json.dumps({"org": org, "target": target, "stage": "train", "layer": tr["layer"],
                              "test": tr["test"], "sweep": tr["sweep"], "s": round(time.time() - t)}), flush=True)
            for cue in cues:
                t = time.time()
                ev = evaluate_probe(where, spec, cue=cue, n_threads=1)
                print(json.dumps({"org": org, "target": target, "stage": "eval", "cue": cue,
                                  **{k: ev[k] for k in KEYS}, "s": round(time.time() - t)}), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "probes-bench"))
