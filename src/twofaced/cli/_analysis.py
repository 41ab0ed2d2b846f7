"""``twofaced compare`` and ``twofaced plan``."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from ..run import compare_runs
from ..stats import plan_sample_size
from ._app import app, out
from ._options import JsonFlag


def _pp(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:+.1f}"


@app.command()
def compare(
    dir_a: Annotated[Path, typer.Argument(help="First run directory (e.g. before).")],
    dir_b: Annotated[Path, typer.Argument(help="Second run directory (e.g. after).")],
    as_json: JsonFlag = False,
) -> None:
    """Two runs side by side: each gap, and the difference of gaps (A − B) with its 95% interval."""
    result = compare_runs(dir_a, dir_b)
    if as_json:
        print(json.dumps(result, indent=2))
        return
    a, b = result["a"], result["b"]
    out.print(f"A: [bold]{escape(a['model'] or '?')}[/] ({escape(str(dir_a))})   "
              f"B: [bold]{escape(b['model'] or '?')}[/] ({escape(str(dir_b))})   judge {result['judge']}")
    if not result["same_scenario"]:
        out.print(f"[yellow]note:[/] different scenarios ({escape(str(a['scenario']))} vs "
                  f"{escape(str(b['scenario']))}); the gaps measure different things")
    t = Table(box=box.SIMPLE_HEAD, header_style="bold")
    for col in ("ablation", "gap A (pp)", "gap B (pp)", "A − B (pp)", "95% CI", "p"):
        t.add_column(col, justify="left" if col == "ablation" else "right")
    for g in result["gaps"]:
        ci = "–" if g["difference"] is None else f"[{_pp(g['ci_low'])}, {_pp(g['ci_high'])}]"
        p = "–" if g["p_value"] is None else f"{g['p_value']:.3g}"
        t.add_row(escape(g["ablation"] or "(none)"), _pp(g["gap_a"]), _pp(g["gap_b"]), _pp(g["difference"]),
                  escape(ci), p)
    out.print(t)


@app.command()
def plan(
    gap: Annotated[float, typer.Option("--gap", help="Smallest compliance gap worth detecting (e.g. 0.05).")],
    base: Annotated[float, typer.Option("--base", help="Compliance rate in deployment (e.g. 0.02).")],
    power: Annotated[float, typer.Option("--power", min=0.01, max=0.999)] = 0.8,
    alpha: Annotated[float, typer.Option("--alpha", min=1e-6, max=0.5)] = 0.05,
    samples: Annotated[int, typer.Option("--samples", min=1, help="Samples per request and condition.")] = 1,
    icc: Annotated[float, typer.Option("--icc", min=0.0, max=1.0,
                                       help="Correlation of samples of one request (with --samples > 1).")] = 0.0,
    as_json: JsonFlag = False,
) -> None:
    """How many requests (and samples) a run needs to detect a gap with the given power."""
    p = plan_sample_size(gap=gap, base=base, power=power, alpha=alpha, samples_per_request=samples, icc=icc)
    if as_json:
        print(json.dumps(asdict(p), indent=2))
        return
    out.print(f"To detect a gap of {100 * gap:.1f} points over a base rate of {100 * base:.1f}% with power "
              f"{power:.0%} at alpha {alpha}: [bold]{p.requests} requests[/] x {p.samples} sample(s) per condition "
              f"({p.total_items} items in all; achieved power {p.power:.3f}; {escape(p.method)}).")
