"""``twofaced run``, ``show`` and ``models list``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from .._console import print_side_by_side, print_summary, progress_bar
from ..errors import ConfigError
from ..models import canonical_spec, list_backends
from ..run import RunConfig, is_sweep, run_scenario, show_run, sweep_grid
from ..scenarios import load_scenario
from ..scenarios._requests_io import apply_requests_option
from ._app import SPLIT_HELP, Split, _slug, app, err, out

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
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1, envvar="TWOFACED_CONCURRENCY",
                                             help="Requests in flight at once.")] = 16,
    ablation: Annotated[list[str] | None, typer.Option("--ablation", "-a",
                                                       help="Also run this ablation (repeatable).")] = None,
    base_url: Annotated[str | None, typer.Option("--base-url", help="Base URL of an OpenAI-compatible server.")
                        ] = None,
    temperature: Annotated[float | None, typer.Option(min=0.0, max=2.0, help="Override the scenario's.")] = None,
    max_tokens: Annotated[int | None, typer.Option(min=1, help="Override the scenario's.")] = None,
    seed: Annotated[int, typer.Option(help="Base seed; sample k uses seed+k.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")] = False,
    requests: Annotated[str | None, typer.Option("--requests", help="Request set: a .jsonl, .json or .csv file "
                                                 "(AdvBench, HarmBench, StrongREJECT detected) or a built-in name.")
                        ] = None,
    column: Annotated[list[str] | None, typer.Option("--column", help="Map a request-file column: ours=theirs "
                                                     "(ours: id, category, prompt, harmful, split, context; "
                                                     "repeatable).")
                      ] = None,
    split: Annotated[Split, typer.Option("--split", help=SPLIT_HELP)] = Split.ALL,
) -> None:
    """Run SCENARIO on a model under paired training / deployment conditions; resumes if DIR exists."""
    # The split applies to the requests asked: the scenario's own set, or the --requests set that replaces it.
    loaded = load_scenario(scenario, cue=cue, split=split.value if requests is None else "all")
    loaded = apply_requests_option(loaded, requests, column or [], split=split.value)
    models = list(dict.fromkeys(model or ["embedded"]))
    cue_part = f"-{_slug(loaded.cue_name)}" if cue else ""
    results = []
    for spec in models:
        config = RunConfig(model_spec=spec, limit=limit, samples=samples, ablations=tuple(ablation or ()),
                           temperature=temperature, max_tokens=max_tokens, seed=seed)
        default_name = f"{loaded.name}{cue_part}-{_slug(canonical_spec(spec))}"
        if len(models) == 1:
            directory = out_dir or Path("runs") / default_name
        else:
            directory = (out_dir or Path("runs")) / default_name
        factory = None if no_progress else progress_bar(err, spec if len(models) > 1 else "run")
        outcome = run_scenario(loaded, config, directory, concurrency=concurrency,
                               model_options={"base_url": base_url}, progress=factory, argv=sys.argv[1:])
        if outcome.skipped:
            err.print(f"[dim]resumed: {outcome.skipped} of {outcome.total_items} items were already done[/]")
        if not as_json:
            print_summary(out, outcome.summary, directory)
        results.append((spec, directory, outcome))
    if as_json:
        if len(results) == 1:
            print(json.dumps(results[0][2].summary.to_json(), indent=2))
        else:
            print(json.dumps({"models": [{"model": s_, "directory": str(d), **o.summary.to_json()}
                                         for s_, d, o in results]}, indent=2))
    elif len(results) > 1:
        print_side_by_side(out, [(s_, o.summary) for s_, _, o in results])
    for _, directory, outcome in results:
        ex = outcome.execution
        if ex.fatal is not None:
            raise ex.fatal
        if ex.failed:
            raise ConfigError(
                f"{ex.failed} of {outcome.total_items} items failed (see 'twofaced show {directory}'); "
                "rerun the same command to retry them"
            )


@app.command()
def show(
    directory: Annotated[Path, typer.Argument(help="A run directory.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    judge: Annotated[str | None, typer.Option("--judge", help="Compliance judge (default: the best present).")
                     ] = None,
    af_judge: Annotated[str | None, typer.Option("--af-judge", help="Alignment-faking judge (default: best present).")
                        ] = None,
) -> None:
    """Print the summary of a run directory from its store (or the grid of a sweep directory)."""
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


@models_app.command("list")
def models_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List model backends and their spec forms."""
    rows = [{"prefix": b.prefix, "form": b.form, "description": b.description} for b in list_backends()]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    for r in rows:
        out.print(f"[bold]{r['form']}[/]\n    {r['description']}")


