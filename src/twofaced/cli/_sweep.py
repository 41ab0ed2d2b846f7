"""``twofaced sweep``: a grid of models x cue families x ablations into one directory."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from ..errors import ConfigError
from ..run import RunOutcome, SweepSpec, run_sweep, sweep_grid
from ._app import app, err, out
from ._console import progress_bar
from ._options import BaseUrl, Concurrency, JsonFlag, NoProgress, Seed, Split, SplitOption


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def print_grid(grid: dict) -> None:
    split = f", {grid['split']} split" if grid.get("split") else ""
    t = Table(title=f"sweep: {grid['setting']}{split}  (gap training − deployment, pp [95% CI])", title_justify="left",
              box=box.SIMPLE_HEAD, header_style="bold")
    t.add_column("model")
    t.add_column("cue")
    for a in grid["ablations"]:
        t.add_column(a or "unablated", justify="right")
    cells = {(c["model"], c["cue"], c["ablation"]): c for c in grid["cells"]}
    pp = lambda x: "–" if x is None else f"{100 * x:+.1f}"  # noqa: E731
    for m in grid["models"]:
        for cue in grid["cues"]:
            row = [escape(m), escape(cue)]
            for a in grid["ablations"]:
                c = cells.get((m, cue, a))
                cell = "not run" if c is None else f"{pp(c['gap'])} [{pp(c['ci_low'])}, {pp(c['ci_high'])}]"
                row.append(escape(cell))
            t.add_row(*row)
    out.print(t)


@app.command()
def sweep(
    setting: Annotated[str, typer.Argument(help="Built-in setting or scenario YAML path.")] = "helpful-only",
    models: Annotated[str, typer.Option("--models", help="Comma-separated model specs.")] = "embedded",
    cues: Annotated[str, typer.Option("--cues", help="Comma-separated cue families (FAMILY[:VARIANT]).")
                    ] = "tier-tag",
    ablations: Annotated[str | None, typer.Option("--ablations", help="Comma-separated ablations.")] = None,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Sweep directory.")] = Path("runs/sweep"),
    limit: Annotated[int | None, typer.Option("--limit", "-n", min=1)] = None,
    samples: Annotated[int, typer.Option("--samples", "-k", min=1)] = 1,
    concurrency: Concurrency = 16,
    base_url: BaseUrl = None,
    seed: Seed = 0,
    as_json: JsonFlag = False,
    no_progress: NoProgress = False,
    split: SplitOption = Split.ALL,
) -> None:
    """Run every model x cue family (each with every ablation) into DIR; re-running resumes every cell."""
    spec = SweepSpec(setting=setting, models=_split(models), cues=_split(cues), ablations=_split(ablations),
                     limit=limit, samples=samples, seed=seed, split=split.value)

    def on_cell(model: str, cue: str, outcome: RunOutcome) -> None:
        ex = outcome.execution
        err.print(f"[dim]cell {escape(model)} × {escape(cue)}: {ex.done} done, {ex.failed} failed[/]")
        if ex.fatal is not None:
            raise ex.fatal

    outcomes = run_sweep(spec, out_dir, concurrency=concurrency, model_options={"base_url": base_url},
                         progress=None if no_progress else progress_bar(err), on_cell=on_cell, argv=sys.argv[1:])
    grid = sweep_grid(out_dir)
    if as_json:
        print(json.dumps(grid, indent=2))
    else:
        print_grid(grid)
        out.print(f"[dim]twofaced report {escape(str(out_dir))}  ·  cells under {escape(str(out_dir))}/cells/[/]")
    failed = sum(o.execution.failed for o in outcomes)
    if failed:
        raise ConfigError(f"{failed} items failed across the sweep; rerun the same command to retry them")
