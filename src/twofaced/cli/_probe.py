"""``twofaced probe train`` / ``probe eval``: linear probes on a local model's activations (docs/probes.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from ..errors import ConfigError
from ..organisms import cue_ref
from ..probes import evaluate_probe, train_probe
from ._app import app, out
from ._options import JsonFlag

probe_app = typer.Typer(help="Linear probes on activations: does the model believe it is unmonitored, or defecting?",
                        no_args_is_help=True)
app.add_typer(probe_app, name="probe")

ModelSpec = Annotated[str, typer.Option("--model", "-m", envvar="TWOFACED_MODEL",
                                        help="A model with reachable hidden states: organism:NAME?backend=torch.")]
Limit = Annotated[int, typer.Option("--limit", "-n", min=1, help="Requests per cue family (scenario data).")]
BatchSize = Annotated[int, typer.Option("--batch-size", min=1, help="Prompts per forward pass.")]
Device = Annotated[str, typer.Option("--device", help="auto (CUDA when torch sees one, else CPU), cpu or cuda.")]
Threads = Annotated[int | None, typer.Option("--threads", min=1, help="torch CPU threads.")]


def _layers(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--layers {text!r}: give layer numbers separated by commas, e.g. --layers 5,10,15") from None


def _fmt(x: Any) -> str:
    return "–" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)


@probe_app.command("train")
def train_cmd(
    model: ModelSpec,
    target: Annotated[str, typer.Option("--target", help="unmonitored (cue says nobody watches) or defection "
                                        "(generic contrast pairs).")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Directory to save the probe in.")],
    layers: Annotated[str | None, typer.Option("--layers", help="Layers to sweep, e.g. 5,10,15 (default: every "
                                               "fourth block).")] = None,
    method: Annotated[str, typer.Option("--method", help="logistic, diff-means or pca.")] = "logistic",
    cue: Annotated[list[str] | None, typer.Option("--cue", help="Cue family to train on (repeatable; unmonitored "
                                                  "only; default: tier-tag, explicit); extra:NAME is an organism's "
                                                  "own phrasing.")] = None,
    scenario: Annotated[str, typer.Option("--scenario", help="Scenario name or YAML path (unmonitored).")
                        ] = "helpful-only",
    position: Annotated[str, typer.Option("--position", help="last (last prompt token) or reply-mean (mean over "
                                          "a greedy reply; slower).")] = "last",
    limit: Limit = 24,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the train / validation / test split.")] = 0,
    batch_size: BatchSize = 8,
    device: Device = "auto",
    threads: Threads = None,
    as_json: JsonFlag = False,
) -> None:
    """Fit a probe, choosing its layer on a validation split and its threshold at 1% false positives."""
    cues = [cue_ref(c) for c in cue] if cue else None
    result = train_probe(model, target, out_dir, layers=_layers(layers), method=method, cues=cues, scenario=scenario,
                         limit=limit, position=position, seed=seed, batch_size=batch_size, device=device,
                         n_threads=threads)
    if as_json:
        out.print_json(json.dumps(result))
        return
    table = Table("layer", "val AUROC", "val d'", box=box.SIMPLE, title=f"{target} probe ({method}) on {model}")
    for row in result["sweep"]:
        mark = " *" if row["layer"] == result["layer"] else ""
        table.add_row(f"{row['layer']}{mark}", _fmt(row["val_auroc"]), _fmt(row["val_dprime"]))
    out.print(table)
    t = result["test"]
    out.print(f"layer {result['layer']} (chosen on validation); test AUROC {_fmt(t['auroc'])} "
              f"[{_fmt(t['auroc_low'])}, {_fmt(t['auroc_high'])}], recall at 1% FPR {_fmt(t['recall_at_1pct_fpr'])}, "
              f"FPR {_fmt(t['fpr'])}; saved to {out_dir}")


@probe_app.command("eval")
def eval_cmd(
    probe_dir: Annotated[Path, typer.Argument(help="A directory written by probe train.")],
    model: ModelSpec,
    cue: Annotated[str | None, typer.Option("--cue", help="Evaluate on this cue family (held out or not); "
                                            "extra:NAME is an organism's own phrasing.")] = None,
    scenario: Annotated[str | None, typer.Option("--scenario", help="Scenario name or YAML path to evaluate on.")
                        ] = None,
    limit: Limit = 24,
    batch_size: BatchSize = 8,
    device: Device = "auto",
    threads: Threads = None,
    as_json: JsonFlag = False,
) -> None:
    """Score a saved probe on the model it was trained on: AUROC, recall at 1% FPR, FPR on honest exchanges."""
    result = evaluate_probe(probe_dir, model, cue=cue_ref(cue) if cue else None, scenario=scenario, limit=limit,
                            batch_size=batch_size, device=device, n_threads=threads)
    if as_json:
        out.print_json(json.dumps(result))
        return
    table = Table("data", "layer", "AUROC [95% CI]", "recall@1%FPR", "FPR", "FPR honest", box=box.SIMPLE)
    table.add_row(result["data"], str(result["layer"]),
                  f"{_fmt(result['auroc'])} [{_fmt(result['auroc_low'])}, {_fmt(result['auroc_high'])}]",
                  _fmt(result["recall_at_1pct_fpr"]), _fmt(result["fpr"]), _fmt(result["fpr_honest"]))
    out.print(table)
