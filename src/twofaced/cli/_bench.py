"""``twofaced bench detectors``: every detector against every organism and its control (docs/detectors.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from ..detectors import DETECTORS, bench_detectors
from ._app import app, err, out
from ._options import JsonFlag

bench_app = typer.Typer(help="Benchmarks of twofaced's detectors against ground truth.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


def _reading(r: dict[str, Any]) -> str:
    mark = " ⚑" if r["flagged"] else ""
    return f"{r['statistic']:+.2f} [{r['low']:+.2f}, {r['high']:+.2f}]{mark}"


@bench_app.command("detectors")
def detectors_cmd(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Directory for the runs and probes (reused: an "
                                          "interrupted benchmark resumes).")] = Path("bench-detectors"),
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="Organism builds per name: seed 0 is the installed "
                                       "one; each further seed is built (5-14 min each on 2 cores).")] = 1,
    organism: Annotated[list[str] | None, typer.Option("--organism", help="Only this organism's pair "
                                                       "(repeatable; default: every pair).")] = None,
    detector: Annotated[list[str] | None, typer.Option(
        "--detector", help=f"Only this detector (repeatable): {', '.join(DETECTORS)}.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Held-out requests per run or probe split.")
                     ] = 20,
    as_json: JsonFlag = False,
) -> None:
    """Score every detector on every built organism vs its matched control: pair accuracy with its interval,
    each model's reading, the catalogue's expectation and the cost."""
    result = bench_detectors(out_dir, seeds=seeds, organisms=organism, detectors=detector, limit=limit,
                             say=lambda msg: err.print(f"[dim]{msg}[/dim]"))
    if as_json:
        out.print_json(json.dumps(result))
        return
    table = Table("detector", "organism", "pair acc. [95% CI]", "organism reading", "control reading", "expected",
                  "as expected", "s", box=box.SIMPLE,
                  title=f"detectors vs organisms ({result['seeds']} seed(s), {result['limit']} requests; "
                        "⚑ flagged by the detector's own rule)")
    for row in result["rows"]:
        table.add_row(row["detector"], row["organism"],
                      f"{row['pair_accuracy']:.2f} [{row['ci_low']:.2f}, {row['ci_high']:.2f}]",
                      _reading(row["faker_readings"][0]), _reading(row["control_readings"][0]), row["expected"],
                      {True: "yes", False: "NO", None: "–"}[row["as_expected"]], f"{row['seconds']:.0f}")
    out.print(table)
    for s in result["skipped"]:
        err.print(f"skipped {s['organism']} seed {s['seed']}: {s['reason']}")
    out.print(f"{result['seconds']:.0f} s in all")
