"""Several models on the same items: ``twofaced run --model A --model B``, as one library call.

Each model runs into its own run directory, named from the scenario, the cue (when one was chosen) and the
model spec, so the same command resumes each; the caller prints each summary as it arrives (``on_done``)
and a side-by-side table at the end. A fatal error or failed items are raised only after every model ran,
so one bad endpoint does not hide the others' results.

The parent directory is recognisable afterwards: ``PARENT/models.json`` (written atomically after each model's
run has created its directory, merged with what it listed before) names each model's directory, so
``twofaced show PARENT`` and ``twofaced report PARENT`` give every summary and the side-by-side table again.
A parent made before the manifest existed is recognised by its child run directories.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .._util import atomic_write_text, slug
from ..errors import ConfigError, RunDirError
from ..models import canonical_spec, parse_spec
from ..scenarios import LoadedScenario
from ._plan import RunConfig
from ._runner import ProgressFactory, RunOutcome, run_scenario, show_run
from ._store import DB_NAME, open_store
from ._summary import Summary

MANIFEST = "models.json"


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
    for spec in unique:
        parse_spec(spec)  # every spec and its options are checked before the first model runs
    several = len(unique) > 1
    results = []
    for spec in unique:
        directory = run_directory(scenario, spec, out, cue_chosen=cue_chosen, several=several)
        try:
            outcome = run_scenario(scenario, replace(config, model_spec=spec), directory, concurrency=concurrency,
                                   model_options=model_options, progress=progress(spec) if progress else None,
                                   argv=argv)
        finally:
            if several and (directory / DB_NAME).exists():
                _record_in_manifest(directory.parent, spec, directory.name, scenario)
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


# -- the parent directory of a multi-model run ---------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ModelSummary:
    """One model's run under a multi-model parent, read back: its spec, its directory and its summary."""

    spec: str
    directory: Path
    summary: Summary
    label: str = ""  # the row label of the side-by-side table (see :func:`multi_summaries`)

    def to_json(self) -> dict[str, Any]:
        return {"model": self.spec, "directory": str(self.directory), **self.summary.to_json()}


def _read_manifest(parent: Path) -> dict[str, Any]:
    path = parent / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
            raise ValueError("no 'runs' list")
        if not all(isinstance(r, dict) and isinstance(r.get("model"), str) and isinstance(r.get("directory"), str)
                   for r in data["runs"]):
            raise ValueError("each run needs a 'model' and a 'directory'")
        return data
    except (OSError, ValueError) as exc:
        raise RunDirError(f"{path} is not a readable multi-model manifest ({exc}); delete it and rerun the "
                          "same 'twofaced run' command to rewrite it") from exc


def _record_in_manifest(parent: Path, spec: str, name: str, scenario: LoadedScenario) -> None:
    data: dict[str, Any] = {"kind": "twofaced-models", "version": 1, "runs": []}
    if (parent / MANIFEST).is_file():
        data = _read_manifest(parent)
    entry = {"model": spec, "directory": name, "scenario": scenario.name, "cue": scenario.cue_name,
             "split": scenario.split}
    runs = [r for r in data["runs"] if r.get("directory") != name]
    data["runs"] = [*runs, entry]
    atomic_write_text(parent / MANIFEST, json.dumps(data, indent=2) + "\n")


def _child_runs(parent: Path) -> list[Path]:
    """The child directories that hold a ``twofaced run`` (not, say, stored awareness answers), by name."""
    if not parent.is_dir():
        return []
    runs = []
    for p in sorted(parent.iterdir()):
        if (p / DB_NAME).is_file():
            try:
                with open_store(p, create=False) as store:
                    if "scenario_hash" in store.meta():
                        runs.append(p)
            except RunDirError:
                continue  # not a readable store: not one of the runs
    return runs


def is_multi(directory: str | Path) -> bool:
    """Whether ``directory`` is the parent of a multi-model run: no run of its own (and no sweep), but a
    ``models.json`` manifest or at least one child directory holding a ``twofaced run``."""
    d = Path(directory)
    if (d / DB_NAME).exists() or (d / "sweep.json").exists() or not d.is_dir():
        return False
    return (d / MANIFEST).is_file() or bool(_child_runs(d))


def multi_runs(directory: str | Path) -> list[tuple[str | None, Path]]:
    """``(model spec or None, run directory)`` of each run under a multi-model parent: the manifest's entries
    whose directory holds a run, in the order they ran, else every child run directory by name."""
    d = Path(directory)
    if (d / MANIFEST).is_file():
        runs = [(str(r["model"]), d / str(r["directory"])) for r in _read_manifest(d)["runs"]]
        return [(spec, p) for spec, p in runs if (p / DB_NAME).is_file()]
    return [(None, p) for p in _child_runs(d)]


def multi_summaries(directory: str | Path, judge: str | None = None,
                    af_judge: str | None = None) -> list[ModelSummary]:
    """The summary of every model's run under a multi-model parent (see :func:`multi_runs`), each read as
    ``twofaced show`` reads one run. Raises :class:`RunDirError` when ``directory`` holds none.

    Each ``label`` is the model spec, with the scenario (and cue, split) added when the runs do not all share
    one, so rows of different settings are never read as one comparison."""
    runs = multi_runs(directory)
    if not runs:
        raise RunDirError(f"{directory} holds no run directories; run 'twofaced run --model A --model B --out "
                          f"{directory}' first")
    out = []
    for spec, path in runs:
        summary = show_run(path, judge, af_judge)
        out.append(ModelSummary(spec or str(summary.meta.get("model", path.name)), path, summary))
    settings = [_setting(r.summary) for r in out]
    several = len(set(settings)) > 1
    return [replace(r, label=f"{r.spec} ({s})" if several else r.spec) for r, s in zip(out, settings, strict=True)]


def _setting(summary: Summary) -> str:
    m = summary.meta
    return ", ".join([m.get("scenario", "?")] + [f"{k} {m[k]}" for k in ("cue", "split") if m.get(k)])
