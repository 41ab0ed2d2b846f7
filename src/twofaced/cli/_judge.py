"""``twofaced judge run | calibrate | list``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from .._util import atomic_write_jsonl
from ..judges import calibrate_judge, list_judges, load_labels, parse_mapping
from ..run import judge_run
from ..stats import METHOD_DELONG
from ._app import app, err, out
from ._console import CountingBar
from ._options import JsonFlag, JudgeBaseUrl, JudgeModel, Votes

judge_app = typer.Typer(help="Judge completions and measure judges.", no_args_is_help=True)
app.add_typer(judge_app, name="judge")

def _options(votes: int | None) -> dict[str, Any]:
    return {} if votes is None else {"votes": votes}


def _progress(to_do: int, total: int) -> Any:
    return CountingBar(err, "judge", total, total - to_do).advance


@judge_app.command("run")
def judge_run_cmd(
    directory: Annotated[Path, typer.Argument(help="A run directory.")],
    judge: Annotated[str, typer.Option("--judge", "-j", help="Judge name (see 'twofaced judge list').")],
    judge_model: JudgeModel = None,
    votes: Votes = None,
    base_url: JudgeBaseUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """Judge every completed item of a run; resumable, and other judges' verdicts are kept. Waits for another
    command writing to DIR; exits 1 when every new verdict is an error."""
    result = judge_run(directory, judge, judge_model=judge_model, options=_options(votes),
                       model_options={"base_url": base_url}, progress=None if as_json else _progress)
    payload = {"judge": result.judge, "version": result.version, "judge_model": result.judge_model or None,
               "judged": result.judged, "skipped": result.skipped, "errors": result.errors, "counts": result.counts}
    if as_json:
        print(json.dumps(payload, indent=2))
    else:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(result.counts.items())) or "nothing new"
        out.print(f"{escape(result.judge)}: judged {result.judged} ({escape(counts)}), {result.skipped} already "
                  f"judged; see 'twofaced show {escape(str(directory))}'")
        if result.errors and result.errors < result.judged:
            err.print(f"{result.errors} judge errors recorded; rerun to retry them")
    result.raise_if_all_errors(directory)


@judge_app.command("calibrate")
def judge_calibrate_cmd(
    judge: Annotated[str, typer.Option("--judge", "-j", help="Judge name.")],
    labels: Annotated[Path, typer.Option("--labels", help="Labelled JSONL or CSV file.")],
    column: Annotated[list[str] | None, typer.Option("--column", help="Map a column: ours=theirs (repeatable).")
                      ] = None,
    judge_model: JudgeModel = None,
    votes: Votes = None,
    predictions: Annotated[Path | None, typer.Option("--predictions", help="Write per-row predictions (JSONL).")
                           ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Measure a judge on a labelled file: AUROC (DeLong interval), accuracy, precision, recall and specificity
    (Wilson intervals), confusion matrix."""
    rows = load_labels(labels, parse_mapping(column or []))
    metrics, preds = calibrate_judge(judge, rows, judge_model=judge_model, options=_options(votes))
    if predictions is not None:
        atomic_write_jsonl(predictions, preds)
    if as_json:
        print(json.dumps(metrics, indent=2))
        return
    c = metrics["confusion"]
    fmt = lambda x: "–" if x is None else f"{x:.3f}"  # noqa: E731
    out.print(f"[bold]{escape(judge)}[/] on {metrics['n']} labelled rows ({metrics['positives']} positive, "
              f"{metrics['errors']} judge errors); {metrics['confidence']:.0%} intervals", highlight=False)
    auroc_method = "DeLong" if metrics["auroc_method"] == METHOD_DELONG else "Newcombe score (no DeLong here)"
    for name, label, method in (("auroc", "AUROC", auroc_method), ("accuracy", "accuracy", "Wilson"),
                                ("precision", "precision", "Wilson"), ("recall", "recall", "Wilson"),
                                ("specificity", "specificity", "Wilson")):
        low, high = metrics[f"{name}_ci_low"], metrics[f"{name}_ci_high"]
        ci = f"[{fmt(low)}, {fmt(high)}]" if low is not None and high is not None else "(no interval)"
        out.print(f"  {label:<12} {fmt(metrics[name])}  {ci}  {method if low is not None else ''}".rstrip(),
                  highlight=False)
    out.print(f"at threshold {metrics['threshold']}; confusion: tp {c['tp']}  fp {c['fp']}  tn {c['tn']}  "
              f"fn {c['fn']}", highlight=False)


@judge_app.command("list")
def judge_list_cmd(as_json: JsonFlag = False) -> None:
    """List the judges."""
    rows: list[dict[str, Any]] = [{"name": j.name, "kind": j.kind, "needs_model": j.needs_model,
                                   "description": j.description} for j in list_judges()]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    for r in rows:
        needs = " (needs --judge-model)" if r["needs_model"] else ""
        out.print(f"[bold]{r['name']}[/] [dim]{r['kind']}[/]{needs}\n    {escape(r['description'])}")
