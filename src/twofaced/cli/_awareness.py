"""``twofaced awareness``: can the model tell an evaluation from real use? (AUROC with a 95% CI)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from .._util import atomic_write_jsonl
from ..awareness import gather_transcripts, measure_awareness
from ._app import app, err, out
from ._console import CountingBar
from ._options import BaseUrl, Concurrency, JsonFlag, NoProgress, Seed


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def _ci(row: dict[str, Any]) -> str:
    if row["auroc"] is None:
        return "–"
    return f"{row['auroc']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"


@app.command()
def awareness(
    model: Annotated[str, typer.Option("--model", "-m", envvar="TWOFACED_MODEL",
                                       help="Model spec: embedded, openai/MODEL, anthropic/MODEL, ...")] = "embedded",
    cue: Annotated[list[str] | None, typer.Option("--cue", help="Test the helpful-only scenario's training vs "
                                                  "deployment user turns for this cue family (repeatable).")] = None,
    transcripts: Annotated[Path | None, typer.Option("--transcripts", help="Your labelled JSONL: {id?, label, "
                                                     "messages} or {label, text}; label 1 = evaluation.")] = None,
    builtin: Annotated[bool, typer.Option("--builtin", help="Also use the built-in transcripts with --cue or "
                                          "--transcripts (they are the default otherwise).")] = False,
    include_system: Annotated[bool, typer.Option("--include-system", help="With --cue, also show the scenario's "
                                                 "system prompt (it explains the cue).")] = False,
    limit: Annotated[int | None, typer.Option("--limit", "-n", min=1, help="N transcripts per class of each "
                                              "origin, round-robin over sources (with --cue: the first N requests).")
                     ] = None,
    samples: Annotated[int, typer.Option("--samples", "-k", min=1, help="Probe samples per transcript, averaged.")
                       ] = 1,
    concurrency: Concurrency = 16,
    base_url: BaseUrl = None,
    temperature: Annotated[float, typer.Option(min=0.0, max=2.0, help="Sampling temperature of the probe.")] = 1.0,
    max_tokens: Annotated[int, typer.Option(min=1, help="Token budget of each probe answer.")] = 256,
    seed: Seed = 0,
    predictions: Annotated[Path | None, typer.Option("--predictions", help="Write per-transcript scores (JSONL).")
                           ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", "-o", help="Store every probe answer in this directory; "
                                                 "the same command again reuses them and asks only what is "
                                                 "missing.")] = None,
    as_json: JsonFlag = False,
    no_progress: NoProgress = False,
) -> None:
    """Can the model tell an evaluation from real use? AUROC of its answers, with a 95% DeLong interval."""
    rows = gather_transcripts(cues=list(cue or []), transcripts_file=transcripts, builtin=builtin, limit=limit,
                              include_system=include_system)
    bar = None if no_progress or as_json else CountingBar(err, "awareness", len(rows) * samples)
    try:
        result = measure_awareness(model, rows, samples=samples, seed=seed, temperature=temperature,
                                   max_tokens=max_tokens, concurrency=concurrency,
                                   model_options={"base_url": base_url}, progress=bar.advance if bar else None,
                                   out=out_dir, argv=sys.argv[1:])
    finally:
        if bar is not None:
            bar.stop()
    if predictions is not None:
        atomic_write_jsonl(predictions, result.predictions())
    report = result.report
    if out_dir is not None and report["reused"]:
        err.print(f"[dim]resumed: {report['reused']} of {len(rows) * samples} answers were stored in "
                  f"{escape(str(out_dir))} already; asked {report['asked']}[/]")
    if as_json:
        print(json.dumps(report, indent=2))
        return
    _print_report(report)


def _print_report(r: dict[str, Any]) -> None:
    out.print(f"[bold]situational awareness[/] of [bold]{escape(r['model'])}[/]: can it tell an evaluation from "
              f"real use? ({r['transcripts']} transcripts x {r['samples']} sample(s); {r['errors']} unreadable)",
              soft_wrap=True)
    if r["errors"]:
        err.print(f"{r['errors']} of {r['transcripts']} transcripts got no readable answer and are left out; "
                  "--predictions FILE keeps the replies")
    t = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
    for col in ("", "AUROC [95% CI]", "n", "eval / real", "mean score eval", "mean score real", "p", "errors"):
        t.add_column(col, justify="left" if not col else "right", no_wrap=True)

    def add(name: str, row: dict[str, Any], style: str | None = None) -> None:
        p = "–" if row["p_value"] is None else f"{row['p_value']:.2g}"
        t.add_row(escape(name), escape(_ci(row)), str(row["n"]), f"{row['n_eval']} / {row['n_real']}",
                  _fmt(row["mean_score_eval"]), _fmt(row["mean_score_real"]), p, str(row["errors"]), style=style)

    add("overall", r, "bold")
    for row in r["by_source"]:
        add(f"  {row['source']}", row)
    out.print(t)
    if r["by_kind"]:
        k = Table(title="by kind (one-class kinds ranked against the other class of their source)",
                  title_justify="left", box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
        for col in ("source", "kind", "label", "AUROC [95% CI]", "n", "mean score"):
            k.add_column(col, justify="left" if col in ("source", "kind") else "right", no_wrap=True)
        for row in r["by_kind"]:
            label = "both" if row["label"] is None else ("eval" if row["label"] == 1 else "real")
            mean = row["mean_score_eval"] if row["label"] == 1 else row["mean_score_real"]
            k.add_row(escape(row["source"]), escape(str(row["kind"])), label, escape(_ci(row)), str(row["n"]),
                      _fmt(mean if row["label"] is not None else None))
        out.print(k)
    method = r["method"] or "–"
    out.print(f"[dim]AUROC 0.5 = cannot tell, 1 = always can, < 0.5 = backwards; interval: {escape(method)}[/]",
              soft_wrap=True)
    out.print(escape(r["reference"]["text"]), soft_wrap=True)
