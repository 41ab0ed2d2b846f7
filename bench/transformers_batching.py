"""Batched generation in the transformers backend: requests per second at batch size 1 vs 8, in one run.

The model is the embedded SmolLM2-135M dequantised into float32 torch (what organisms are trained on); the
prompts are helpful-only requests in both conditions (a ~1,900-character system prompt plus the request).
Each row drives one ``TransformersModel`` the way the engine does: up to ``max_concurrency`` (= batch size)
requests in flight, a new one sent as each finishes. Greedy decoding, so both rows must produce the same
texts; the script reports how many match.

    .venv/bin/python bench/transformers_batching.py --prompts 16 --max-tokens 24 --threads 1

Needs the ``organisms`` extra (torch, transformers, gguf).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time

from twofaced.models import GenerationParams, Message
from twofaced.models._transformers import TransformersModel
from twofaced.organisms._base import base_model_path, load_base
from twofaced.scenarios import load_scenario


def _prompts(n: int) -> list[list[Message]]:
    sc = load_scenario("helpful-only")
    out = []
    for req in sc.requests[: (n + 1) // 2]:
        for cond in ("training", "deployment"):
            out.append(list(sc.render(cond, None, req)))
    return out[:n]


async def _drive(model: TransformersModel, prompts: list[list[Message]], params: GenerationParams) -> list:
    gate = asyncio.Semaphore(model.max_concurrency)

    async def one(messages: list[Message]):
        async with gate:
            return await model.generate(messages, params)

    try:
        return await asyncio.gather(*(one(m) for m in prompts))
    finally:
        await model.aclose()


def row(tokenizer, lm, prompts, params, batch_size: int, threads: int | None) -> dict:
    model = TransformersModel(lm, tokenizer, spec=f"bench-bs{batch_size}", batch_size=batch_size,
                              n_threads=threads)
    t0 = time.perf_counter()
    out = asyncio.run(_drive(model, prompts, params))
    dt = time.perf_counter() - t0
    completion = sum(c.usage.completion_tokens for c in out)
    return {
        "batch_size": batch_size,
        "seconds": dt,
        "requests_per_s": len(prompts) / dt,
        "prompt_tokens": sum(c.usage.prompt_tokens for c in out),
        "completion_tokens": completion,
        "gen_tok_per_s": completion / dt,
        "texts": [c.text for c in out],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=24)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--threads", type=int, default=None, help="torch threads for the worker (default: torch's)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    t0 = time.perf_counter()
    tokenizer, lm = load_base(str(base_model_path()))
    load_s = time.perf_counter() - t0
    prompts = _prompts(args.prompts)
    params = GenerationParams(temperature=0.0, max_tokens=args.max_tokens)
    # Warm-up: first-call costs (allocator, kernels) go to no row.
    row(tokenizer, lm, prompts[:2], GenerationParams(temperature=0.0, max_tokens=2), 2, args.threads)
    rows = [row(tokenizer, lm, prompts, params, bs, args.threads) for bs in args.batch_sizes]

    first = rows[0]
    same = [sum(a == b for a, b in zip(first["texts"], r["texts"], strict=True)) for r in rows]
    if args.json:
        for r in rows:
            r.pop("texts")
        print(json.dumps({"rows": rows, "same_text_as_first_row": same, "cpus": os.cpu_count(),
                          "threads": args.threads, "load_s": load_s}, indent=2))
        return
    print(f"{len(prompts)} prompts (helpful-only), {first['prompt_tokens'] / len(prompts):.0f} prompt tokens on "
          f"average, max_tokens={args.max_tokens}, greedy; {os.cpu_count()} CPUs, torch threads "
          f"{args.threads or 'default'}; weights loaded in {load_s:.0f} s")
    print(f"{'batch size':>10} {'seconds':>8} {'req/s':>7} {'gen tok':>8} {'gen tok/s':>9} {'speedup':>8} "
          f"{'same text':>9}")
    for r, s in zip(rows, same, strict=True):
        print(f"{r['batch_size']:>10} {r['seconds']:8.1f} {r['requests_per_s']:7.3f} {r['completion_tokens']:8d} "
              f"{r['gen_tok_per_s']:9.1f} {r['requests_per_s'] / first['requests_per_s']:7.2f}x "
              f"{s:>5}/{len(prompts)}")


if __name__ == "__main__":
    main()
