"""``judge_run``: apply a judge to every completed item of a run directory, resumably.

An item needs judging when it has no verdict from this judge, version and judge model, or only an ``error``
one. Verdicts are written batch by batch, so an interrupted judge run keeps what it finished; verdicts of
other judges (or of the same judge with another judge model) are never touched.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import RunDirError
from ..judges import JudgeInput, get_judge, parse_completion
from ..models import get_model
from ._records import load_records, stored_protocol
from ._store import open_store

BATCH = 64


@dataclass(slots=True)
class JudgeRunResult:
    judge: str
    version: str
    judge_model: str
    judged: int
    skipped: int
    errors: int
    counts: dict[str, int]


async def judge_run_async(
    directory: str | Path,
    judge_name: str,
    *,
    judge_model: str | None = None,
    options: dict[str, Any] | None = None,
    progress: Callable[[int, int], Callable[[int], None]] | None = None,
) -> JudgeRunResult:
    store = open_store(directory, create=False)
    model = None
    try:
        records = load_records(store)
        if not records:
            raise RunDirError(f"{directory} has no completions yet; run 'twofaced run' into it first")
        protocol = stored_protocol(store)
        model = get_model(judge_model) if judge_model else None
        judge = get_judge(judge_name, model, protocol=protocol, **(options or {}))
        done = {item_id for item_id, verdict in store.verdicts_for(judge.name, judge.version, judge.judge_model).items()
                if verdict != "error"}
        todo = [r for r in records if r.item_id not in done]
        advance = progress(len(todo), len(records)) if progress and todo else None
        counts: dict[str, int] = {}
        for start in range(0, len(todo), BATCH):
            batch = todo[start : start + BATCH]
            inputs = []
            for r in batch:
                parsed = parse_completion(r.text or "", protocol)
                inputs.append(JudgeInput(r.item_id, r.request, parsed.scratchpad, parsed.output, r.text or ""))
            verdicts = await judge.judge(inputs)
            store.add_verdicts([(r.item_id, judge.name, judge.version, judge.judge_model, v.verdict, v.score,
                                 v.rationale) for r, v in zip(batch, verdicts, strict=True)])
            for v in verdicts:
                counts[v.verdict] = counts.get(v.verdict, 0) + 1
            if advance:
                advance(len(batch))
        return JudgeRunResult(judge.name, judge.version, judge.judge_model, len(todo), len(records) - len(todo),
                              counts.get("error", 0), counts)
    finally:
        store.close()
        if model is not None:
            await model.aclose()


def judge_run(directory: str | Path, judge_name: str, **kwargs: Any) -> JudgeRunResult:
    return asyncio.run(judge_run_async(directory, judge_name, **kwargs))
