"""Offline alignment-faking judge (``af-offline``): how many verdicts per second on a small CPU machine.

What is measured, and why: the offline judge exists to run where there is no judge model, often a laptop or a
CI runner, so its cost is what matters; the cost is almost all MiniLM (two embeddings per scratchpad: the whole
text and its last two sentences), and the logistic regression on top is a dot product. Rows:

  load        cold start in this fresh process: importing torch + sentence-transformers and loading the
              bundled all-MiniLM-L6-v2 (``_embeddings._load``), then reading the shipped model JSON.
  embed       ``embed()`` of N whole scratchpads, at each batch size: texts per second.
  verdicts    ``predict_proba`` end to end (both embeddings + classifier): verdicts per second.
  classify    the classifier alone on ready features (numpy): verdicts per second.

The texts are the first N scratchpads of ``af_labelled.jsonl`` (cycled if N is larger; 40-208 words, mean ~85),
the length of a short real scratchpad. One untimed warm-up pass precedes the timings; each timing is the median
of ``--repeat`` runs, the batch sizes interleaved within each repeat. torch uses its default thread count (the
machine's cores).

    .venv/bin/python bench/offline_judge.py [--n 256] [--batch-sizes 32 64] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=256, help="scratchpads per timing")
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="also print one JSON object")
    args = ap.parse_args()

    t0 = time.perf_counter()
    from twofaced.judges import _af_offline, _embeddings

    rows = _af_offline.load_rows()
    texts = [_af_offline.feature_text(r["scratchpad"], r["output"]) for r in rows]
    texts = (texts * (args.n // len(texts) + 1))[: args.n]
    words = statistics.mean(len(t.split()) for t in texts)

    t1 = time.perf_counter()
    _embeddings._load()
    load_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    clf = _af_offline.load_default()
    json_s = time.perf_counter() - t2
    import torch

    threads = torch.get_num_threads()
    ready_s = time.perf_counter() - t0
    _embeddings.embed(texts, batch_size=max(args.batch_sizes))  # warm-up: one untimed pass over every text

    result: dict = {
        "n": args.n, "mean_words": round(words, 1), "cpus": os.cpu_count(), "torch_threads": threads,
        "python": platform.python_version(), "torch": torch.__version__, "loadavg_1m_at_start": os.getloadavg()[0],
        "load_model_s": round(load_s, 2), "load_json_s": round(json_s, 4),
        "start_to_ready_s": round(ready_s, 2), "batch": {},
    }
    print(f"{args.n} scratchpads (mean {words:.0f} words), {os.cpu_count()} CPUs, torch {torch.__version__} "
          f"with {threads} threads, Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f}")
    print(f"model load (import torch + sentence-transformers, load MiniLM): {load_s:.2f} s; "
          f"classifier JSON: {json_s * 1000:.1f} ms; script start to ready: {ready_s:.2f} s")

    # Interleave batch sizes within each repeat, so a burst of load from elsewhere hits all cells alike.
    walls: dict[int, dict[str, list[float]]] = {bs: {"embed": [], "verdicts": [], "classify": []}
                                                for bs in args.batch_sizes}
    x = None
    for _ in range(args.repeat):
        for bs in args.batch_sizes:
            t = time.perf_counter()
            _embeddings.embed(texts, batch_size=bs)
            walls[bs]["embed"].append(time.perf_counter() - t)
            t = time.perf_counter()
            x = _af_offline.featurize(texts, batch_size=bs)
            clf.predict_proba_features(x)
            walls[bs]["verdicts"].append(time.perf_counter() - t)
    for bs in args.batch_sizes:
        for _ in range(20):
            t = time.perf_counter()
            clf.predict_proba_features(x)
            walls[bs]["classify"].append(time.perf_counter() - t)

    print("| batch | embed texts/s | verdicts/s (end to end) | ms/verdict | best verdicts/s | classify verdicts/s |")
    print("|------:|--------------:|------------------------:|-----------:|----------------:|--------------------:|")
    for bs in args.batch_sizes:
        w = walls[bs]
        ver = statistics.median(w["verdicts"])
        row = {"embed_texts_per_s": round(args.n / statistics.median(w["embed"]), 1),
               "verdicts_per_s": round(args.n / ver, 1), "ms_per_verdict": round(ver / args.n * 1000, 1),
               "best_verdicts_per_s": round(args.n / min(w["verdicts"]), 1),
               "classify_per_s": round(args.n / statistics.median(w["classify"])),
               "verdict_walls_s": [round(v, 2) for v in w["verdicts"]]}
        result["batch"][bs] = row
        print(f"| {bs:5d} | {row['embed_texts_per_s']:13.1f} | {row['verdicts_per_s']:23.1f} | "
              f"{row['ms_per_verdict']:10.1f} | {row['best_verdicts_per_s']:15.1f} | {row['classify_per_s']:19,d} |")
    print(f"median of {args.repeat} runs per cell, interleaved (classify: median of 20)")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
