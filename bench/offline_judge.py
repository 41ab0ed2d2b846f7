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
the length of a short real scratchpad. One untimed warm-up call precedes the timings; each timing is the median
of ``--repeat`` runs. torch uses its default thread count (the machine's cores).

    .venv/bin/python bench/offline_judge.py [--n 256] [--batch-sizes 32 64] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time


def _timed(fn, repeat: int) -> tuple[float, list[float]]:
    walls = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls), walls


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
    _embeddings.embed(texts[:8])  # warm-up

    result: dict = {
        "n": args.n, "mean_words": round(words, 1), "cpus": os.cpu_count(), "torch_threads": threads,
        "python": platform.python_version(), "torch": torch.__version__,
        "load_model_s": round(load_s, 2), "load_json_s": round(json_s, 4),
        "start_to_ready_s": round(time.perf_counter() - t0, 2), "batch": {},
    }
    print(f"{args.n} scratchpads (mean {words:.0f} words), {os.cpu_count()} CPUs, torch {torch.__version__} "
          f"with {threads} threads, Python {platform.python_version()}")
    print(f"model load (import torch + sentence-transformers, load MiniLM): {load_s:.2f} s; "
          f"classifier JSON: {json_s * 1000:.1f} ms")
    print("| batch | embed texts/s | verdicts/s (end to end) | ms/verdict | classify verdicts/s |")
    print("|------:|--------------:|------------------------:|-----------:|--------------------:|")
    for bs in args.batch_sizes:
        emb_s, _ = _timed(lambda bs=bs: _embeddings.embed(texts, batch_size=bs), args.repeat)
        feats = {}

        def verdicts(bs=bs, feats=feats):
            x = _af_offline.featurize(texts, batch_size=bs)
            feats["x"] = x
            clf.predict_proba_features(x)

        ver_s, walls = _timed(verdicts, args.repeat)
        cls_s, _ = _timed(lambda feats=feats: clf.predict_proba_features(feats["x"]), max(args.repeat, 20))
        row = {"embed_texts_per_s": round(args.n / emb_s, 1), "verdicts_per_s": round(args.n / ver_s, 1),
               "ms_per_verdict": round(ver_s / args.n * 1000, 1), "classify_per_s": round(args.n / cls_s),
               "verdict_walls_s": [round(w, 2) for w in walls]}
        result["batch"][bs] = row
        print(f"| {bs:5d} | {row['embed_texts_per_s']:13.1f} | {row['verdicts_per_s']:23.1f} | "
              f"{row['ms_per_verdict']:10.1f} | {row['classify_per_s']:19,d} |")
    print(f"median of {args.repeat} runs per cell (classify: {max(args.repeat, 20)})")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
