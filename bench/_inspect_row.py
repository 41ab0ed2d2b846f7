"""The rows of ``bench/engine_overhead.py`` that need the bench venv (``inspect-ai``, ``openai``).

Run by ``engine_overhead.py`` with the bench venv's python, never imported by it, so the project venv stays
free of both packages. It reads the workload the parent wrote (the exact messages and sampling parameters
twofaced sends), runs it against the parent's stub server, and prints one JSON line::

    {"row": ..., "items": ..., "wall_s": ..., "cpu_s": ..., "errors": ...}

``wall_s`` and ``cpu_s`` (``time.process_time``) cover the measured call only: dataset construction plus the
eval (or the request loop), not interpreter start-up or imports, the same span the in-process rows measure.

Rows:
  inspect     Inspect AI's ``eval()``: the workload's distinct prompts as samples, ``epochs`` = samples per
              prompt, the ``openai-api`` provider pointed at the stub, ``max_connections`` = ``max_samples``
              = concurrency, a trivial ``includes()`` scorer, no sandbox, no display, logs to ``--log-dir``.
  openai-sdk  the openai SDK's ``AsyncOpenAI`` in a bare semaphore loop: what the SDK alone costs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any

ACCEPT_TAG = "<request_fully_accepted/>"


def _fill_total_tokens() -> None:
    """Let Inspect accept the stub's ``usage``, which has no ``total_tokens`` (OpenAI always sends it).

    Inspect validates ``total_tokens`` as an int and fails every sample without it; fill it in, as the sum
    OpenAI defines, just before Inspect converts each completion. Costs microseconds per sample.
    """
    from inspect_ai.model._providers import openai_compatible

    convert = openai_compatible.model_output_from_openai

    def patched(completion: Any, *args: Any, **kwargs: Any) -> Any:
        usage = completion.usage
        if usage is not None and usage.total_tokens is None:
            usage.total_tokens = (usage.prompt_tokens or 0) + (usage.completion_tokens or 0)
        return convert(completion, *args, **kwargs)

    openai_compatible.model_output_from_openai = patched


def prepare_inspect() -> Any:
    """Import Inspect (outside the timed span, as the parent has imported twofaced) and return the runner."""
    from inspect_ai import Task, eval
    from inspect_ai.dataset import MemoryDataset, Sample
    from inspect_ai.model import ChatMessageSystem, ChatMessageUser
    from inspect_ai.scorer import includes
    from inspect_ai.solver import generate

    _fill_total_tokens()
    roles = {"system": ChatMessageSystem, "user": ChatMessageUser}

    def run(work: list[dict[str, Any]], base_url: str, concurrency: int, log_dir: str) -> tuple[int, int]:
        epochs = 1 + max(w["sample"] for w in work)
        samples = [
            Sample(id=i, input=[roles[m["role"]](content=m["content"]) for m in w["messages"]],
                   target=ACCEPT_TAG)
            for i, w in enumerate(w for w in work if w["sample"] == 0)
        ]
        params = work[0]["params"]
        task = Task(dataset=MemoryDataset(samples), solver=generate(), scorer=includes(), epochs=epochs)
        [log] = eval(
            task, model="openai-api/stub/stub", model_base_url=base_url, max_connections=concurrency,
            max_samples=concurrency, temperature=params["temperature"], max_tokens=params["max_tokens"],
            top_p=params["top_p"], display="none", log_dir=log_dir, log_level="warning", sandbox=None,
        )
        if log.status != "success":
            print(f"inspect eval ended {log.status}: {log.error.message if log.error else ''}", file=sys.stderr)
        completed = log.results.completed_samples if log.results else 0
        return completed, len(samples) * epochs - completed

    return run


async def run_openai_sdk(work: list[dict[str, Any]], base_url: str, concurrency: int) -> tuple[int, int]:
    from openai import AsyncOpenAI

    sem = asyncio.Semaphore(concurrency)
    async with AsyncOpenAI(base_url=base_url, api_key="stub") as client:

        async def one(w: dict[str, Any]) -> bool:
            p = w["params"]
            async with sem:
                r = await client.chat.completions.create(
                    model="stub", messages=w["messages"], temperature=p["temperature"],
                    max_tokens=p["max_tokens"], top_p=p["top_p"], seed=p["seed"],
                )
            return bool(r.choices[0].message.content)

        ok = await asyncio.gather(*(one(w) for w in work))
    return sum(ok), len(ok) - sum(ok)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--row", choices=("inspect", "openai-sdk"), required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--workload", required=True, help="JSON file written by engine_overhead.py")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--log-dir", default=None, help="Inspect's log directory (a temporary one)")
    args = parser.parse_args()
    with open(args.workload, encoding="utf-8") as f:
        work = json.load(f)
    os.environ.setdefault("STUB_API_KEY", "stub")  # the openai-api provider wants a key for service "stub"
    if args.row == "inspect":
        run_inspect = prepare_inspect()

        def call() -> tuple[int, int]:
            return run_inspect(work, args.base_url, args.concurrency, args.log_dir)
    else:
        import openai  # noqa: F401  (imported here, outside the timed span)

        def call() -> tuple[int, int]:
            return asyncio.run(run_openai_sdk(work, args.base_url, args.concurrency))

    cpu0, t0 = time.process_time(), time.perf_counter()
    items, errors = call()
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    print(json.dumps({"row": args.row, "items": items, "wall_s": wall, "cpu_s": cpu, "errors": errors}))


if __name__ == "__main__":
    main()
