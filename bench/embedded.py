"""Embedded-model benchmark: twofaced's backend vs bare llama-cpp-python, and the worth of prefix reuse.

Measured side by side in one process, on the same prompts (helpful-only, training and deployment turns of the
first requests) and the same seeds:

1. generated tokens per second: bare ``Llama.create_chat_completion`` vs ``twofaced`` ``EmbeddedModel.generate``
   (target: twofaced >= 90% of bare);
2. N requests sharing one long system prompt, with prefix reuse (llama-cpp-python re-evaluates only the tokens
   after the common prefix; twofaced orders items so it applies) and without (cache cleared per request).

    .venv/bin/python bench/embedded.py --requests 6 --max-tokens 48
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time

from twofaced import GenerationParams, load_scenario
from twofaced.models._embedded import EmbeddedModel, _load


def _prompts(n: int) -> list[list[dict[str, str]]]:
    sc = load_scenario("helpful-only")
    out = []
    for req in sc.requests[: (n + 1) // 2]:
        for cond in ("training", "deployment"):
            out.append([{"role": m.role, "content": m.content} for m in sc.render(cond, None, req)])
    return out[:n]


def bare(llama, prompts, max_tokens: int, reuse: bool) -> dict[str, float]:
    tokens = 0
    prompt_tokens = 0
    t0 = time.perf_counter()
    for i, msgs in enumerate(prompts):
        if not reuse:
            llama.reset()
        out = llama.create_chat_completion(msgs, max_tokens=max_tokens, temperature=1.0, top_p=1.0, seed=i)
        tokens += out["usage"]["completion_tokens"]
        prompt_tokens += out["usage"]["prompt_tokens"]
    dt = time.perf_counter() - t0
    return {"seconds": dt, "completion_tokens": tokens, "prompt_tokens": prompt_tokens, "tok_per_s": tokens / dt}


def twofaced_backend(model: EmbeddedModel, prompts, max_tokens: int) -> dict[str, float]:
    from twofaced import Message

    async def go() -> tuple[int, int]:
        tokens = prompt_tokens = 0
        for i, msgs in enumerate(prompts):
            c = await model.generate([Message(m["role"], m["content"]) for m in msgs],
                                     GenerationParams(temperature=1.0, max_tokens=max_tokens, seed=i))
            tokens += c.usage.completion_tokens
            prompt_tokens += c.usage.prompt_tokens
        return tokens, prompt_tokens

    t0 = time.perf_counter()
    tokens, prompt_tokens = asyncio.run(go())
    dt = time.perf_counter() - t0
    return {"seconds": dt, "completion_tokens": tokens, "prompt_tokens": prompt_tokens, "tok_per_s": tokens / dt}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=6)
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    prompts = _prompts(args.requests)
    model = EmbeddedModel()
    llama = _load(str(model.path), model.n_ctx, model.n_threads)  # the same loaded weights for both rows
    bare(llama, prompts[:1], 4, True)  # warm-up: page in weights, repack
    rows = {
        "bare llama-cpp-python (prefix reuse)": bare(llama, prompts, args.max_tokens, True),
        "twofaced embedded (prefix reuse)": twofaced_backend(model, prompts, args.max_tokens),
        "bare llama-cpp-python (cold cache)": bare(llama, prompts, args.max_tokens, False),
    }
    base = rows["bare llama-cpp-python (prefix reuse)"]
    ours = rows["twofaced embedded (prefix reuse)"]
    cold = rows["bare llama-cpp-python (cold cache)"]
    verdict = {
        "twofaced_vs_bare_tok_per_s": ours["tok_per_s"] / base["tok_per_s"],
        "prefix_reuse_speedup": cold["seconds"] / base["seconds"],
        "seconds_per_request_with_reuse": base["seconds"] / len(prompts),
        "seconds_per_request_cold": cold["seconds"] / len(prompts),
    }
    if args.json:
        print(json.dumps({"rows": rows, "summary": verdict, "cpus": os.cpu_count()}, indent=2))
        return
    print(f"{len(prompts)} requests, max_tokens={args.max_tokens}, {os.cpu_count()} CPUs, "
          f"system prompt {base['prompt_tokens'] // len(prompts)} tokens per request on average")
    print(f"{'row':40} {'seconds':>8} {'gen tok':>8} {'tok/s':>7}")
    for name, r in rows.items():
        print(f"{name:40} {r['seconds']:8.2f} {r['completion_tokens']:8d} {r['tok_per_s']:7.1f}")
    print(f"twofaced / bare generated tok/s: {verdict['twofaced_vs_bare_tok_per_s']:.2f} (target >= 0.90)")
    print(f"prefix reuse: {verdict['seconds_per_request_with_reuse']:.2f} s/request vs "
          f"{verdict['seconds_per_request_cold']:.2f} s cold ({verdict['prefix_reuse_speedup']:.1f}x)")


if __name__ == "__main__":
    main()
