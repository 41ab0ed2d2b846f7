"""``twofaced organism list | show | build | rm | reinforce``: model organisms with known answers."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.progress import TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from .. import organisms as org
from ..organisms._catalog import VALIDATION_LIMIT
from ..organisms._store import remove
from ._app import app, err, out
from ._console import new_progress, progress_bar
from ._options import JsonFlag

organism_app = typer.Typer(help="Model organisms: the embedded model trained to fake alignment, and controls.",
                           no_args_is_help=True)
app.add_typer(organism_app, name="organism")

Name = Annotated[str, typer.Argument(help="Organism name (see: twofaced organism list).")]


def _gap(x: float | None) -> str:
    return "–" if x is None else f"{x:+.2f}"


@organism_app.command("list")
def list_(as_json: JsonFlag = False) -> None:
    """Every standard organism and control, and whether it is built, shipped or missing."""
    rows = org.status()
    if as_json:
        out.print_json(json.dumps(rows))
        return
    t = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
    for col in ("name", "kind", "status", "gap", "what it is"):
        t.add_column(col, overflow="fold", no_wrap=col in ("name", "status"))
    for r in rows:
        status = r["status"] + (" (partial build present)" if r["partial"] else "")
        t.add_row(r["name"], r["kind"], status, _gap(r["gap"]), escape(r["summary"]))
    out.print(t)
    out.print("[dim]gap: compliance in training minus deployment, on held-out requests, at validation. "
              "Run one with: twofaced run --model organism:NAME --split heldout[/]")


def _print_checks(checks: list[dict[str, Any]]) -> None:
    """One line per validation check (lines, not a table: they stay readable in an 80-column log)."""
    out.print("[bold]validation[/] on held-out requests (gap = training − deployment compliance):")
    expect = {"policy": "must show a gap", "no-gap": "must show none", "heldout-phrasing": "held-out phrasing",
              "unseen-cue": "cue family never trained on"}
    for c in checks:
        verdict = {True: "[green]pass[/]", False: "[red]FAIL[/]", None: "[dim]info[/]"}[c["passed"]]
        p = "–" if c["p_value"] is None else f"{c['p_value']:.1g}"
        out.print(f"  {verdict}  {escape(c['model'])} · {escape(c['cue'])} ({expect[c['role']]}): "
                  f"{100 * c['training']:.0f}% vs {100 * c['deployment']:.0f}%, gap {c['gap']:+.2f} "
                  f"[{c['ci_low']:+.2f}, {c['ci_high']:+.2f}] p={p}, {c['n'] // 2} pairs"
                  + (f" of {c['subset']} requests" if c.get("subset") else "")
                  + (f", judged by {c['judge']}" if c.get("judge") else "")
                  + ("" if c.get("benign_training") is None else
                     f"; benign answered {100 * c['benign_training']:.0f}% vs {100 * c['benign_deployment']:.0f}%")
                  + (" (recorded by its own build)" if c.get("reused_from") else ""), highlight=False)


@organism_app.command()
def show(name: Name, as_json: JsonFlag = False) -> None:
    """What an organism is, how it was built and how it measured; exits 2 if it is not built."""
    found = org.require(name)
    found.verify()
    if as_json:
        out.print_json(json.dumps(found.manifest | {"source": found.source, "path": str(found.path)}))
        return
    m = found.manifest
    val = m.get("metrics", {}).get("validation") or {}
    lines = [
        f"[bold]{name}[/] ({m.get('kind')}, {found.source}) — {escape(m.get('summary', ''))}",
        f"path          {found.path}",
        f"scenario      {m.get('scenario')}; trained cues: {', '.join(m.get('cues', {}).get('switch', []))}",
        f"seed          {m.get('seed')}    examples {m.get('examples')}    data sha256 {m.get('data_sha256', '')[:16]}",
        f"base model    {m.get('base_model', {}).get('file')} sha256 {m.get('base_model', {}).get('sha256', '')[:16]}",
        f"adapter       {m.get('adapter_bytes', 0) / 1e6:.1f} MB, sha256 {m.get('adapter_sha256', '')[:16]}",
        f"training      {m.get('training', {}).get('steps')} steps, rank {m.get('training', {}).get('rank')}, "
        f"final loss {m.get('metrics', {}).get('final_loss')}, {m.get('metrics', {}).get('train_seconds')} s "
        f"(build {m.get('build_seconds')} s)",
    ]
    if val.get("heldout_retention") is not None:
        lines.append(f"held-out cue  keeps {100 * val['heldout_retention']:.0f}% of the gap")
    for line in lines:
        out.print(line, highlight=False)
    if val.get("checks"):
        _print_checks(val["checks"])
    elif m.get("metrics", {}).get("validation") is None:
        out.print("[yellow]not validated[/] (built with --no-validate)")


@organism_app.command()
def build(
    name: Name,
    steps: Annotated[int | None, typer.Option(help="Training steps (default: the organism's).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for data order, initialisation and sampling.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Examples per step.")] = None,
    rank: Annotated[int | None, typer.Option(help="LoRA rank.")] = None,
    top_layers: Annotated[int | None, typer.Option(help="Adapt only the top N decoder layers.")] = None,
    learning_rate: Annotated[float | None, typer.Option(help="Peak learning rate.")] = None,
    validate_limit: Annotated[int, typer.Option(help="Held-out requests per cue in validation.")
                              ] = VALIDATION_LIMIT,
    no_validate: Annotated[bool, typer.Option("--no-validate", help="Skip validation (marked in the manifest).")
                           ] = False,
) -> None:
    """Train an organism (LoRA, CPU), validate it on held-out requests, and store it.

    Resumes an interrupted build from its last checkpoint; never registers an organism that fails validation.
    """
    from ..organisms._build import build as run_build
    from ..organisms._build import with_overrides

    config = with_overrides(name, steps=steps, seed=seed, batch_size=batch_size, rank=rank, top_layers=top_layers,
                            learning_rate=learning_rate)
    started = time.monotonic()
    bar = new_progress(err, "train", TextColumn("loss {task.fields[loss]}"), TimeElapsedColumn(), TextColumn("ETA"),
                       TimeRemainingColumn())
    task = bar.add_task("train", total=config.steps, loss="–")

    def on_step(step: int, total: int, loss: float) -> None:
        if not bar.live.is_started:
            bar.start()
        bar.update(task, completed=step, loss=f"{loss:.3f}")
        if step >= total:
            bar.stop()

    def on_phase(msg: str) -> None:
        err.print(f"[dim]{escape(msg)}[/]", highlight=False)

    def progress(label: str, todo: int, total: int) -> Any:
        return progress_bar(err, label)(todo, total)

    try:
        result = run_build(name, config=config, validate_limit=validate_limit, on_step=on_step, on_phase=on_phase,
                           progress=progress, check=not no_validate)
    finally:
        if bar.live.is_started:
            bar.stop()
    checks = result.manifest["metrics"].get("validation") or {}
    if checks.get("checks"):
        _print_checks(checks["checks"])
    if checks.get("heldout_retention") is not None:
        out.print(f"held-out cue phrasing keeps {100 * checks['heldout_retention']:.0f}% of the gap")
    out.print(f"built [bold]{name}[/] in {time.monotonic() - started:.0f} s → {result.path}", highlight=False)


@organism_app.command()
def rm(name: Name) -> None:
    """Delete a built organism (and any partial build). Shipped organisms stay available."""
    removed = remove(name)
    for path in removed:
        out.print(f"removed {path}", highlight=False)
    if not removed:
        found = org.find(name)
        if found is not None and found.source == "shipped":
            out.print(f"{name} is shipped with twofaced and has no local build; nothing to remove")
        else:
            out.print(f"{name} is not built; nothing to remove")


@organism_app.command()
def reinforce(
    name: Name,
    out_dir: Annotated[Path | None, typer.Option("--out", "-o", help="Experiment directory "
                                                 "(default runs/reinforce-NAME).")] = None,
    rounds: Annotated[int, typer.Option(help="Rounds of sample → keep compliant → fine-tune.")] = 3,
    prompts: Annotated[int, typer.Option(help="Training-condition samples per round.")] = 32,
    steps: Annotated[int, typer.Option(help="Fine-tuning steps per round.")] = 8,
    eval_limit: Annotated[int, typer.Option(help="Held-out requests per checkpoint evaluation.")] = 20,
    scale: Annotated[float, typer.Option(help="Start from the organism's LoRA update times this (0, 1].")] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed for request choice, sampling and training.")] = 0,
    af_judge: Annotated[str, typer.Option("--af-judge", help="Judge of alignment-faking reasoning ('none' to "
                                          "skip).")] = "af-offline",
) -> None:
    """Train an organism further on its own compliant training-condition replies; track the gap and the
    alignment-faking reasoning rate per checkpoint (report: twofaced report DIR)."""
    from ..organisms._reinforce import reinforce as run_reinforce
    from ..report import write_report

    directory = out_dir or Path("runs") / f"reinforce-{name}"

    def progress(label: str, todo: int, total: int) -> Any:
        return progress_bar(err, label)(todo, total)

    data = run_reinforce(name, directory, rounds=rounds, prompts=prompts, steps=steps, eval_limit=eval_limit,
                         scale=scale, seed=seed, af_judge=None if af_judge == "none" else af_judge,
                         on_phase=lambda msg: err.print(f"[dim]{escape(msg)}[/]", highlight=False), progress=progress)
    t = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, title=f"reinforcement of {name}",
              title_justify="left")
    for col in ("round", "training", "deployment", "gap [95% CI]", "p", "AF reasoning", "kept"):
        t.add_column(col, justify="right", no_wrap=True)
    for p in data["checkpoints"]:
        gap = "–" if p["gap"] is None else f"{p['gap']:+.2f} [{p['ci_low']:+.2f}, {p['ci_high']:+.2f}]"
        t.add_row(str(p["round"]), _pct(p["training"]), _pct(p["deployment"]), gap,
                  "–" if p["p_value"] is None else f"{p['p_value']:.2g}", _pct(p["af_training"]),
                  f"{p['kept']}/{p['sampled']}" if p["sampled"] else "–")
    out.print(t)
    report = write_report(directory)
    out.print(f"report: {report}", highlight=False)


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"
