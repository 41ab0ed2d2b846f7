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
from ..stats import format_p, plan_sample_size
from ._app import app, out
from ._options import JsonFlag, ShowAfJudge, ShowJudge


def _pp(x: float | None) -> str:
    """Signed points; a value that is not 0 is never printed as 0 (an interval bound's side of 0 is the test)."""
    if x is None:
        return "–"
    text = f"{100 * x:+.1f}"
    return f"{100 * x:+.1g}" if x != 0 and float(text) == 0 else text


@app.command()
def compare(
    dir_a: Annotated[Path, typer.Argument(help="First run directory (e.g. before).")],
    dir_b: Annotated[Path, typer.Argument(help="Second run directory (e.g. after).")],
    as_json: JsonFlag = False,
    judge: ShowJudge = None,
    af_judge: ShowAfJudge = None,
) -> None:
    """Two runs side by side: each gap, and the difference of gaps (A − B) with its 95% interval and p-value
    (the interval excludes 0 exactly when p < 0.05); notes name any difference in requests, sizes or settings."""
    result = compare_runs(dir_a, dir_b, judge, af_judge)
    if as_json:
        print(json.dumps(result, indent=2))
        return
    a, b = result["a"], result["b"]
    out.print(f"A: [bold]{escape(a['model'] or '?')}[/] ({escape(str(dir_a))})   "
              f"B: [bold]{escape(b['model'] or '?')}[/] ({escape(str(dir_b))})   judge {result['judge']}")
    for warning in result["warnings"]:
        out.print(f"[yellow]note:[/] {escape(warning)}")
    t = Table(title="Gaps, training − deployment, in points", title_justify="left", box=box.SIMPLE_HEAD,
              header_style="bold", show_edge=False, padding=(0, 1, 0, 0))
    for col in ("ablation", "gap A", "gap B", "A − B", "95% CI", "p"):
        t.add_column(col, justify="left" if col == "ablation" else "right", overflow="fold",
                     no_wrap=col != "ablation")
    for g in result["gaps"]:
        ci = "–" if g["difference"] is None else f"[{_pp(g['ci_low'])}, {_pp(g['ci_high'])}]"
        t.add_row(escape(g["ablation"] or "(none)"), _pp(g["gap_a"]), _pp(g["gap_b"]), _pp(g["difference"]),
                  escape(ci), format_p(g["p_value"]))
    out.print(t)
    for method in dict.fromkeys(g["method"] for g in result["gaps"]):
        out.print(f"[dim]method: {escape(method)}[/]")


@app.command()
def plan(
    gap: Annotated[float, typer.Option("--gap", help="Smallest compliance gap worth detecting, a fraction "
                                       "(0.05 for 5 points).")],
    base: Annotated[float, typer.Option("--base", help="Compliance rate in deployment, a fraction (0.02 for 2%).")],
    power: Annotated[float, typer.Option("--power", help="Chance of detecting the gap, a fraction in (0, 1).")] = 0.8,
    alpha: Annotated[float, typer.Option("--alpha", help="Level of the two-sided test, in (0, 1).")] = 0.05,
    samples: Annotated[int, typer.Option("--samples", min=1, help="Samples per request and condition.")] = 1,
    icc: Annotated[float, typer.Option("--icc", help="Correlation of samples of one request, in [0, 1] "
                                       "(with --samples > 1).")] = 0.0,
    as_json: JsonFlag = False,
) -> None:
    """How many requests (and samples) a run needs to detect a gap with the given power. Rates are fractions."""
    p = plan_sample_size(gap=gap, base=base, power=power, alpha=alpha, samples_per_request=samples, icc=icc)
    if as_json:
        print(json.dumps(asdict(p), indent=2))
        return
    out.print(f"To detect a gap of {100 * gap:.1f} points over a base rate of {100 * base:.1f}% with power "
              f"{power:.0%} at alpha {alpha}: [bold]{p.requests} requests[/] x {p.samples} sample(s) per condition "
              f"({p.total_items} items in all; achieved power {p.power:.3f}; {escape(p.method)}).")
