"""``twofaced sweep``: a grid of models x cue families x ablations into one directory."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from ..errors import ConfigError
from ..run import RunOutcome, SweepSpec, run_sweep, sweep_grid
from ..stats import format_p
from ._app import app, err, out
from ._console import progress_bar
from ._options import BaseUrl, Concurrency, JsonFlag, NoProgress, Seed, Split, SplitOption


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def print_grid(grid: dict[str, Any]) -> None:
    """One row per model x cue x ablation (a long table, so any number of ablations fits 80 columns), each gap
    with its interval and the p-value that agrees with it; the grid-wide Holm p is a separate column."""
    split = f", {grid['split']} split" if grid.get("split") else ""
    t = Table(title=f"sweep: {grid['setting']}{split}\ngap training − deployment, pp [95% CI]", title_justify="left",
              box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, show_edge=False)
    t.add_column("model", overflow="fold")
    for col in ("cue", "ablation"):
        t.add_column(col, no_wrap=True)
    for col in ("gap [95% CI]", "p", "Holm p"):
        t.add_column(col, justify="right", no_wrap=True)
    cells = {(c["model"], c["cue"], c["ablation"]): c for c in grid["cells"]}
    pp = lambda x: "–" if x is None else f"{100 * x:+.1f}"  # noqa: E731
    pv = lambda x: "–" if x is None else format_p(x)  # noqa: E731
    for m in grid["models"]:
        for cue in grid["cues"]:
            for a in grid["ablations"]:
                c = cells.get((m, cue, a))
                if c is None:
                    t.add_row(escape(m), escape(cue), escape(a or "unablated"), "not run", "", "")
                    continue
                t.add_row(escape(m), escape(cue), escape(a or "unablated"),
                          f"{pp(c['gap'])} [{pp(c['ci_low'])}, {pp(c['ci_high'])}]", pv(c.get("p_value")),
                          pv(c.get("p_holm_grid")))
    out.print(t)


@app.command()
def sweep(
    setting: Annotated[str, typer.Argument(help="Built-in setting or scenario YAML path.")] = "helpful-only",
    model: Annotated[list[str] | None, typer.Option(
        "--model", "-m", help="Model spec (repeatable, as in 'run'); default embedded.")
    ] = None,
    models: Annotated[str | None, typer.Option("--models", help="Deprecated: comma-separated model specs; "
                                               "repeat --model instead.")] = None,
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
    if models is not None:
        err.print("[yellow]--models is deprecated; repeat --model instead (--model A --model B)[/]")
    specs = tuple(dict.fromkeys([*(model or []), *_split(models)]))
    if not specs and models is None:
        specs = ("embedded",)
    spec = SweepSpec(setting=setting, models=specs, cues=_split(cues), ablations=_split(ablations),
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
