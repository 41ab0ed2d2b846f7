"""Sweeps: one command runs a grid (models x cue families x ablations) into one directory.

Layout: ``DIR/sweep.json`` (the grid, written atomically) and one ordinary run directory per model x cue cell
under ``DIR/cells/``; each cell runs the unablated setting plus every ablation. A cell is a normal run, so
everything that works on a run (resume, ``judge run``, ``report``, ``show``) works on a cell, and re-running
the sweep resumes every cell. A directory that holds a different grid is refused, never mixed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .._util import atomic_write_text, slug
from ..errors import ConfigError, RunDirError
from ..models import parse_spec
from ..scenarios import load_scenario
from ..stats import holm
from ._plan import RunConfig
from ._runner import ProgressFactory, RunOutcome, run_scenario, show_run

MANIFEST = "sweep.json"


@dataclass(frozen=True, slots=True)
class SweepSpec:
    setting: str
    models: tuple[str, ...]
    cues: tuple[str, ...]
    ablations: tuple[str, ...] = ()
    limit: int | None = None
    samples: int = 1
    seed: int = 0
    split: str = "all"

    def to_json(self) -> dict[str, Any]:
        """The spec as ``sweep.json`` records it; ``split`` only when not ``all``, so a sweep directory made
        before splits existed still resumes."""
        data = json.loads(json.dumps(asdict(self)))
        if self.split == "all":
            del data["split"]
        return data


def cell_dirs(spec: SweepSpec) -> list[tuple[str, str, str]]:
    """(model, cue, relative directory) for every cell, in grid order."""
    return [(m, c, f"cells/{i:02d}-{slug(m, 'x')}--{slug(c, 'x')}")
            for i, (m, c) in enumerate((m, c) for m in spec.models for c in spec.cues)]


def is_sweep(directory: str | Path) -> bool:
    return (Path(directory) / MANIFEST).is_file()


def read_sweep(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunDirError(f"{path} is not a readable sweep manifest ({exc}); use another --out") from exc


def _write_manifest(directory: Path, data: dict[str, Any]) -> None:
    atomic_write_text(directory / MANIFEST, json.dumps(data, indent=2))


def run_sweep(spec: SweepSpec, out: str | Path, *, concurrency: int = 16,
              model_options: dict[str, Any] | None = None, progress: ProgressFactory | None = None,
              on_cell: Callable[[str, str, RunOutcome], None] | None = None, argv: list[str] | None = None
              ) -> list[RunOutcome]:
    """Run (or resume) every cell of the grid; bad input anywhere fails before any model is called."""
    if not spec.models or not spec.cues:
        raise ConfigError("--model and --cues each need at least one entry (repeat --model; --cues is "
                          "comma-separated)")
    for model in spec.models:
        parse_spec(model)  # every spec and its options are checked before the first cell runs
    directory = Path(out)
    if (directory / "run.sqlite").exists():
        raise RunDirError(f"{directory} is a single run, not a sweep; choose another --out")
    scenarios = {cue: load_scenario(spec.setting, cue=cue, split=spec.split)  # validates every cue first
                 for cue in spec.cues}
    for sc in scenarios.values():
        for ablation in spec.ablations:
            sc.ablation(ablation)
    cells = cell_dirs(spec)
    manifest = {"kind": "twofaced-sweep", "version": 1, "spec": spec.to_json(),
                "cells": [{"model": m, "cue": c, "directory": d} for m, c, d in cells]}
    if is_sweep(directory):
        old = read_sweep(directory)
        had = (old.get("spec") or {}).get("split", "all")
        if had != spec.split:
            raise RunDirError(f"{directory} holds a sweep of the {had!r} split of the requests, not {spec.split!r}; "
                              f"resume it with --split {had} or use another --out")
        if old.get("spec") != manifest["spec"]:
            raise RunDirError(f"{directory} holds another sweep (its grid or settings differ); use another --out")
    _write_manifest(directory, manifest)
    outcomes = []
    for model, cue, rel in cells:
        config = RunConfig(model_spec=model, limit=spec.limit, samples=spec.samples, ablations=spec.ablations,
                           seed=spec.seed)
        outcome = run_scenario(scenarios[cue], config, directory / rel, concurrency=concurrency,
                               model_options=model_options, progress=progress, argv=argv)
        outcomes.append(outcome)
        if on_cell is not None:
            on_cell(model, cue, outcome)
    return outcomes


def sweep_grid(directory: str | Path) -> dict[str, Any]:
    """The grid of gaps: one row per model x cue x ablation, with Holm-adjusted p-values across the grid.

    Each row's ``ci_low``, ``ci_high``, ``p_value`` and ``method`` are its cell's summary gap (one construction:
    the interval excludes 0 exactly when p < 0.05); ``p_holm_grid`` adjusts for the whole grid and may
    legitimately differ from the interval."""
    directory = Path(directory)
    manifest = read_sweep(directory)
    rows = []
    for cell in manifest["cells"]:
        cell_dir = directory / cell["directory"]
        if not (cell_dir / "run.sqlite").exists():
            continue
        summary = show_run(cell_dir).to_json()
        for gap in summary["gaps"]:
            rows.append({"model": cell["model"], "cue": cell["cue"], "ablation": gap["ablation"],
                         "gap": gap["gap"], "ci_low": gap["ci_low"], "ci_high": gap["ci_high"],
                         "p_value": gap.get("p_value"), "training": gap["training"],
                         "deployment": gap["deployment"], "method": gap["method"], "design": gap.get("design"),
                         "n": sum(r["n"] for r in summary["conditions"] if r["ablation"] == gap["ablation"]),
                         "directory": cell["directory"]})
    tested = [r for r in rows if r["p_value"] is not None]
    for r, adj in zip(tested, holm([r["p_value"] for r in tested]), strict=True):
        r["p_holm_grid"] = adj
    spec = manifest["spec"]
    split = {"split": spec["split"]} if spec.get("split", "all") != "all" else {}
    return {"setting": spec["setting"], **split, "models": spec["models"], "cues": spec["cues"],
            "ablations": [None, *spec["ablations"]], "cells": rows}
