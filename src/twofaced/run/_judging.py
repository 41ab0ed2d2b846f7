"""``judge_run``: apply a judge to every completed item of a run directory, resumably.

An item needs judging when it has no verdict from this judge, version and judge model, or only an ``error``
one. Verdicts are written batch by batch, so an interrupted judge run keeps what it finished; verdicts of
other judges (or of the same judge with another judge model) are never touched. The run holds the directory's
write lock (``_lock.py``) while it judges, so a judge run started during ``twofaced run`` waits for it.

``twofaced run --judge NAME`` applies model-free judges the same way inside the run's lock (:func:`apply_judges`,
called by the runner after the engine), so a cheap rule judge such as ``compliance-strict`` needs no second
command.

A judge run whose every new verdict is an error (a judge model that does not exist, a wrong endpoint) stores
them (a later run retries them) and :meth:`JudgeRunResult.raise_if_all_errors` turns it into a one-line
:class:`~twofaced.errors.ModelError`; the summary picks, per judge, the newest judge model with usable
verdicts, so earlier good verdicts stay visible.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ModelError, RunDirError
from ..judges import JudgeInput, get_judge, judge_info, parse_completion
from ..models import get_model
from ._lock import lock_directory_async
from ._records import load_records, stored_protocol
from ._store import Store, open_store

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
    first_error: str | None = None  # the rationale of the first error verdict, for the message

    def raise_if_all_errors(self, directory: str | Path) -> None:
        """Raise :class:`ModelError` when this invocation judged items and every verdict is an error."""
        if self.judged and self.errors == self.judged:
            model = f" with judge model {self.judge_model}" if self.judge_model else ""
            why = f" (first: {self.first_error[:200]})" if self.first_error else ""
            raise ModelError(
                f"every one of the {self.judged} verdicts of {self.judge}{model} is an error{why}; they are stored "
                f"and earlier verdicts in {directory} are kept; check --judge-model and --base-url, then rerun "
                "to retry them"
            )


async def judge_run_async(
    directory: str | Path,
    judge_name: str,
    *,
    judge_model: str | None = None,
    options: dict[str, Any] | None = None,
    model_options: dict[str, Any] | None = None,
    progress: Callable[[int, int], Callable[[int], None]] | None = None,
) -> JudgeRunResult:
    """Judge every completed item of ``directory`` not yet judged by this judge identity; see the module doc.

    ``model_options`` go to the judge model's backend (``{"base_url": ...}``). Waits for another writer of the
    directory to finish first. Example: ``judge_run(d, "af-llm", judge_model="mock/judge").counts``.
    """
    store = open_store(directory, create=False)  # first: a directory that is not a run gets no lock file
    try:
        with await lock_directory_async(directory):
            return await _judge(store, directory, judge_name, judge_model, options, model_options, progress)
    finally:
        store.close()


async def _judge(
    store: Store,
    directory: str | Path,
    judge_name: str,
    judge_model: str | None,
    options: dict[str, Any] | None,
    model_options: dict[str, Any] | None,
    progress: Callable[[int, int], Callable[[int], None]] | None,
) -> JudgeRunResult:
    """The judge run proper, under the directory's lock; the caller owns ``store``."""
    model = None
    try:
        records = load_records(store)
        if not records:
            raise RunDirError(f"{directory} has no completions yet; run 'twofaced run' into it first")
        protocol = stored_protocol(store)
        model = get_model(judge_model, **(model_options or {})) if judge_model else None
        judge = get_judge(judge_name, model, protocol=protocol, **(options or {}))
        done = {item_id for item_id, verdict in store.verdicts_for(judge.name, judge.version, judge.judge_model).items()
                if verdict != "error"}
        todo = [r for r in records if r.item_id not in done]
        advance = progress(len(todo), len(records)) if progress and todo else None
        counts: dict[str, int] = {}
        first_error: str | None = None
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
                if v.verdict == "error" and first_error is None:
                    first_error = v.rationale
            if advance:
                advance(len(batch))
        return JudgeRunResult(judge.name, judge.version, judge.judge_model, len(todo), len(records) - len(todo),
                              counts.get("error", 0), counts, first_error)
    finally:
        if model is not None:
            await model.aclose()


def check_run_judges(names: tuple[str, ...] | list[str]) -> None:
    """Refuse, before a run creates or sends anything, a ``run --judge`` name that is unknown or needs a judge
    model (``run`` takes none: those judge the run afterwards with ``twofaced judge run``)."""
    for name in names:
        if judge_info(name).needs_model:
            raise ConfigError(f"--judge {name}: this judge needs a judge model, which 'twofaced run' does not take; "
                              f"run without it, then 'twofaced judge run DIR --judge {name} --judge-model SPEC'")


def summary_judges(names: tuple[str, ...] | list[str]) -> tuple[str | None, str | None]:
    """The compliance and alignment-faking judges a summary uses after ``run --judge``: the first of each kind
    among ``names`` (None where none is of that kind: the summary's default, see ``_summary.py``)."""
    kinds = {name: judge_info(name).kind for name in names}
    return (next((n for n in names if kinds[n] == "compliance"), None),
            next((n for n in names if kinds[n] == "alignment-faking"), None))


async def apply_judges(store: Store, directory: str | Path, names: tuple[str, ...] | list[str]
                       ) -> list[JudgeRunResult]:
    """Judge every done item of the run in ``store`` with each of ``names`` (model-free judges: see
    :func:`check_run_judges`), skipping items this judge identity has judged: ``twofaced run --judge NAME``.

    Who calls: :func:`~twofaced.run.run_scenario_async`, under the directory's write lock, after the engine
    returns; the caller owns ``store``. A run with no done item yet is left alone (nothing to judge)."""
    if not names or not store.status_counts().get("done"):
        return []
    return [await _judge(store, directory, name, None, None, None, None) for name in dict.fromkeys(names)]


def judge_run(directory: str | Path, judge_name: str, **kwargs: Any) -> JudgeRunResult:
    return asyncio.run(judge_run_async(directory, judge_name, **kwargs))
