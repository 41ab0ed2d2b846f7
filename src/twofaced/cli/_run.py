"""``twofaced run``, ``show`` and ``models list``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from ..models import list_backends
from ..run import (
    ModelRun,
    RunConfig,
    Transcript,
    is_multi,
    is_sweep,
    item_conversation,
    multi_summaries,
    plan_run,
    raise_for_failures,
    run_models,
    show_run,
    sweep_grid,
)
from ..scenarios import load_scenario
from ..scenarios._requests_io import apply_requests_option
from ._app import app, err, out
from ._console import print_side_by_side, print_summary, progress_bar
from ._dryrun import print_dry_run
from ._options import (
    BaseUrl,
    Concurrency,
    JsonFlag,
    NoProgress,
    RequestColumns,
    Seed,
    ShowAfJudge,
    ShowJudge,
    Split,
    SplitOption,
)

models_app = typer.Typer(help="Model backends and spec strings.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@app.command()
def run(
    scenario: Annotated[str, typer.Argument(help="Built-in scenario name or a scenario YAML path.")] = "helpful-only",
    cue: Annotated[str | None, typer.Option("--cue", help="Cue family: tier-tag, explicit, eval-format, date, "
                                            "trigger, none; FAMILY:VARIANT for a variant.")] = None,
    model: Annotated[list[str] | None, typer.Option(
        "--model", "-m", envvar="TWOFACED_MODEL",
        help="Model spec: embedded, openai/MODEL, anthropic/MODEL, mock/POLICY, organism:NAME. Repeat it to run "
             "several models on the same items and compare their gaps side by side.")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", "-o", help="Run directory (default runs/SCENARIO-MODEL); "
                                                 "with several models, the parent of one directory per model.")
                       ] = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", min=1, help="Use the first N requests.")] = None,
    samples: Annotated[int, typer.Option("--samples", "-k", min=1, help="Samples per request and condition.")] = 1,
    concurrency: Concurrency = 16,
    ablation: Annotated[list[str] | None, typer.Option("--ablation", "-a",
                                                       help="Also run this ablation (repeatable).")] = None,
    base_url: BaseUrl = None,
    temperature: Annotated[float | None, typer.Option(min=0.0, max=2.0, help="Override the scenario's.")] = None,
    max_tokens: Annotated[int | None, typer.Option(min=1, help="Override the scenario's.")] = None,
    seed: Seed = 0,
    as_json: JsonFlag = False,
    no_progress: NoProgress = False,
    requests: Annotated[str | None, typer.Option("--requests", help="Request set: a .jsonl, .json or .csv file "
                                                 "(AdvBench, HarmBench, StrongREJECT detected) or a built-in name.")
                        ] = None,
    column: RequestColumns = None,
    split: SplitOption = Split.ALL,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the items, requests and estimated tokens the run "
                                          "would use, and what DIR has done already; create, load and send "
                                          "nothing.")] = False,
    judge: Annotated[list[str] | None, typer.Option(
        "--judge", help="After the run, judge every done item with this model-free judge (repeatable; e.g. "
                        "compliance-strict, the paper's rule); the summary then uses it. Default: the inline "
                        "compliance-rules verdicts.")] = None,
) -> None:
    """Run SCENARIO on a model under paired training / deployment conditions; resumes if DIR exists."""
    # The split applies to the requests asked: the scenario's own set, or the --requests set that replaces it.
    loaded = load_scenario(scenario, cue=cue, split=split.value if requests is None else "all")
    loaded = apply_requests_option(loaded, requests, column or [], split=split.value)
    specs = list(dict.fromkeys(model or ["embedded"]))
    config = RunConfig(model_spec=specs[0], limit=limit, samples=samples, ablations=tuple(ablation or ()),
                       temperature=temperature, max_tokens=max_tokens, seed=seed,
                       judges=tuple(dict.fromkeys(judge or ())))
    if dry_run:
        plan = plan_run(loaded, specs, config, out_dir, cue_chosen=cue is not None)
        if as_json:
            print(json.dumps(plan.to_json(), indent=2))
        else:
            print_dry_run(out, plan.to_json())
        return

    def on_done(r: ModelRun) -> None:
        if r.outcome.skipped:
            err.print(f"[dim]resumed: {r.outcome.skipped} of {r.outcome.total_items} items were already done[/]")
        if not as_json:
            print_summary(out, r.outcome.summary, r.directory)

    results = run_models(loaded, specs, config, out_dir, cue_chosen=cue is not None, concurrency=concurrency,
                         model_options={"base_url": base_url}, on_done=on_done, argv=sys.argv[1:],
                         progress=None if no_progress else lambda spec: progress_bar(
                             err, spec if len(specs) > 1 else "run"))
    if as_json:
        if len(results) == 1:
            print(json.dumps(results[0].outcome.summary.to_json(), indent=2))
        else:
            print(json.dumps({"models": [{"model": r.spec, "directory": str(r.directory),
                                          **r.outcome.summary.to_json()} for r in results]}, indent=2))
    elif len(results) > 1:
        print_side_by_side(out, [(r.spec, r.outcome.summary) for r in results])
    raise_for_failures(results)


@app.command()
def show(
    directory: Annotated[Path, typer.Argument(help="A run directory (or a sweep or multi-model parent).")],
    as_json: JsonFlag = False,
    judge: ShowJudge = None,
    af_judge: ShowAfJudge = None,
    item: Annotated[str | None, typer.Option(
        "--item", help="Print every turn of this item's conversation as sent and received instead of the summary "
                       "(an item id, or a unique prefix of one; 'twofaced export DIR' lists them).")] = None,
) -> None:
    """Print the summary of a run directory from its store (or the grid of a sweep directory, or each model's
    summary and the side-by-side table of a multi-model parent directory); with --item, one item's conversation."""
    if item is not None:
        transcript = item_conversation(directory, item)
        if as_json:
            print(json.dumps(transcript.to_json(), indent=2, ensure_ascii=False))
        else:
            _print_transcript(transcript)
        return
    if is_multi(directory):  # the parent of `run --model A --model B --out DIR`
        runs = multi_summaries(directory, judge, af_judge)
        if as_json:
            print(json.dumps({"models": [r.to_json() for r in runs]}, indent=2))
            return
        for r in runs:
            print_summary(out, r.summary, r.directory)
        print_side_by_side(out, [(r.label, r.summary) for r in runs])
        return
    if is_sweep(directory):
        from ._sweep import print_grid

        grid = sweep_grid(directory)
        if as_json:
            print(json.dumps(grid, indent=2))
        else:
            print_grid(grid)
        return
    summary = show_run(directory, judge, af_judge)
    if as_json:
        print(json.dumps(summary.to_json(), indent=2))
    else:
        print_summary(out, summary, directory)


def _print_transcript(t: Transcript) -> None:
    """Each turn of one item's conversation in a panel titled with its role (the text as stored, no markup)."""
    where = f"{t.condition}" + (f" · ablation {t.ablation}" if t.ablation else "")
    out.print(f"[bold]item {t.item_id}[/]  {escape(t.model)} · {escape(where)} · request {escape(t.request_id)} · "
              f"sample {t.sample} · {t.status}", highlight=False)
    if t.status == "done":
        stop = t.stop_reason or "not recorded (stored before twofaced recorded it)"
        out.print(f"stopped: {escape(stop)} · last finish reason: {escape(str(t.finish_reason))} · tokens "
                  f"{t.prompt_tokens} in, {t.completion_tokens} out", highlight=False)
    if t.rebuilt:
        out.print("[yellow]note:[/] stored before twofaced kept whole conversations: the continuation turns are "
                  "rebuilt from the protocol's continuation message between the stored assistant turns",
                  highlight=False)
    for i, turn in enumerate(t.turns):
        title = turn.role if i < t.n_prompt or turn.role == "assistant" else f"{turn.role} (continuation)"
        if turn.prefill:
            title += f" (prefilled {turn.prefill!r})"
        out.print(Panel(Text(turn.content), title=escape(title), title_align="left", expand=True))
    if t.error is not None and t.status != "done":
        out.print(f"[red]last error:[/] {escape(t.error[0])}: {escape(t.error[1])}", highlight=False)


@models_app.command("list")
def models_list(as_json: JsonFlag = False) -> None:
    """List model backends, their spec forms and the options each takes (SPEC?name=value)."""
    backends = list_backends()
    if as_json:
        print(json.dumps([{"prefix": b.prefix, "form": b.form, "description": b.description,
                           "options": None if b.options is None else {k: o.as_dict() for k, o in b.options.items()}}
                          for b in backends], indent=2))
        return
    for b in backends:
        out.print(f"[bold]{escape(b.form)}[/]\n    {escape(b.description)}", highlight=False)
        if b.options is None:
            out.print("    options: not declared (passed to the backend unchecked)", highlight=False)
        for name, o in (b.options or {}).items():
            if o.kind != "object":  # Python only: cannot be written in a spec
                out.print(f"    ?{name}=<{escape(o.type_name)}>  {escape(o.description)}", highlight=False)


