"""Several models on the same items: ``twofaced run --model A --model B``, as one library call.

Each model runs into its own run directory, named from the scenario, the cue (when one was chosen) and the
model spec, so the same command resumes each; the caller prints each summary as it arrives (``on_done``)
and a side-by-side table at the end. A fatal error or failed items are raised only after every model ran,
so one bad endpoint does not hide the others' results.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .._util import slug
from ..errors import ConfigError
from ..models import canonical_spec
from ..scenarios import LoadedScenario
from ._plan import RunConfig
from ._runner import ProgressFactory, RunOutcome, run_scenario


@dataclass(frozen=True, slots=True)
class ModelRun:
    """One model's part of a multi-model run: its spec, its directory and what the run returned."""

    spec: str
    directory: Path
    outcome: RunOutcome


def run_directory(scenario: LoadedScenario, spec: str, out: Path | None, *, cue_chosen: bool, several: bool) -> Path:
    """Where ``spec``'s run goes: ``out`` itself for one model, else ``out/SCENARIO[-CUE]-MODEL`` (``out``
    defaults to ``runs/``)."""
    cue_part = f"-{slug(scenario.cue_name, 'model')}" if cue_chosen else ""
    name = f"{scenario.name}{cue_part}-{slug(canonical_spec(spec), 'model')}"
    if not several and out is not None:
        return out
    return (out or Path("runs")) / name


def run_models(
    scenario: LoadedScenario,
    specs: list[str],
    config: RunConfig,
    out: Path | None = None,
    *,
    cue_chosen: bool = False,
    concurrency: int = 16,
    model_options: dict[str, Any] | None = None,
    progress: Callable[[str], ProgressFactory | None] | None = None,
    on_done: Callable[[ModelRun], None] | None = None,
    argv: list[str] | None = None,
) -> list[ModelRun]:
    """Run (or resume) ``scenario`` on each model spec (duplicates dropped) with ``config``'s settings.

    ``config.model_spec`` is replaced by each spec. ``progress(spec)`` gives each run its progress factory.
    Call :func:`raise_for_failures` on the result to turn a fatal error or failed items into an exception.
    """
    unique = list(dict.fromkeys(specs))
    several = len(unique) > 1
    results = []
    for spec in unique:
        directory = run_directory(scenario, spec, out, cue_chosen=cue_chosen, several=several)
        outcome = run_scenario(scenario, replace(config, model_spec=spec), directory, concurrency=concurrency,
                               model_options=model_options, progress=progress(spec) if progress else None,
                               argv=argv)
        result = ModelRun(spec, directory, outcome)
        if on_done is not None:
            on_done(result)
        results.append(result)
    return results


def raise_for_failures(results: list[ModelRun]) -> None:
    """Raise the first fatal error, else a one-line error naming the first run with failed items."""
    for r in results:
        ex = r.outcome.execution
        if ex.fatal is not None:
            raise ex.fatal
        if ex.failed:
            raise ConfigError(
                f"{ex.failed} of {r.outcome.total_items} items failed (see 'twofaced show {r.directory}'); "
                "rerun the same command to retry them"
            )
