"""The ``twofaced`` command: parses, calls the library, prints. No logic of its own lives here.

Errors: a :class:`TwofacedError` prints ``error: <message>`` on stderr and exits 1 (2 for bad input);
``--debug`` (or TWOFACED_DEBUG=1) shows the traceback; Ctrl-C exits 130 after the store is flushed.
Tables and JSON go to stdout, progress and messages to stderr, so ``--json`` output pipes cleanly.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from . import __version__
from ._console import print_summary, progress_bar
from .errors import ConfigError, TwofacedError
from .models import canonical_spec, list_backends
from .run import RunConfig, run_scenario, show_run
from .scenarios import load_scenario

app = typer.Typer(
    name="twofaced",
    help="Catch models that behave one way when watched and another when not.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="Model backends and spec strings.", no_args_is_help=True)
app.add_typer(models_app, name="models")

out = Console()
err = Console(stderr=True)


# Usage errors derive from the ClickException of the click that typer runs on: typer >= 0.2x vendors its own
# copy (typer._click), older typer uses the click package. Found through typer's public BadParameter.
_CLICK_ERRORS: tuple[type[Exception], ...] = tuple(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "model"


def _print_version(value: bool) -> None:
    # Eager: a group callback does not run when no command follows, so `twofaced --version` needs this.
    if value:
        out.print(f"twofaced {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", envvar="TWOFACED_DEBUG", help="Show tracebacks.")] = False,
) -> None:
    if debug:
        os.environ["TWOFACED_DEBUG"] = "1"


@app.command()
def run(
    scenario: Annotated[str, typer.Argument(help="Built-in scenario name or a scenario YAML path.")] = "helpful-only",
    model: Annotated[str, typer.Option("--model", "-m", envvar="TWOFACED_MODEL",
                                       help="Model spec: embedded, openai/MODEL, anthropic/MODEL, mock/POLICY.")
                     ] = "embedded",
    out_dir: Annotated[Path | None, typer.Option("--out", "-o", help="Run directory (default runs/SCENARIO-MODEL).")
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
) -> None:
    """Run SCENARIO on a model under paired training / deployment conditions; resumes if DIR exists."""
    loaded = load_scenario(scenario)
    config = RunConfig(model_spec=model, limit=limit, samples=samples, ablations=tuple(ablation or ()),
                       temperature=temperature, max_tokens=max_tokens, seed=seed)
    directory = out_dir or Path("runs") / f"{loaded.name}-{_slug(canonical_spec(model))}"
    factory = None if no_progress else progress_bar(err)
    outcome = run_scenario(loaded, config, directory, concurrency=concurrency,
                           model_options={"base_url": base_url}, progress=factory, argv=sys.argv[1:])
    ex = outcome.execution
    if outcome.skipped:
        err.print(f"[dim]resumed: {outcome.skipped} of {outcome.total_items} items were already done[/]")
    if as_json:
        print(json.dumps(outcome.summary.to_json(), indent=2))
    else:
        print_summary(out, outcome.summary, directory)
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
) -> None:
    """Print the summary of a run directory from its store."""
    summary = show_run(directory)
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


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point: one line per error, no traceback unless --debug."""
    try:
        rv = app(args=argv, standalone_mode=False)
        if isinstance(rv, int) and rv:
            if rv == 130:  # typer >= 0.2x turns Ctrl-C into Exit(130) and returns its code
                err.print("interrupted: finished items are stored; rerun the same command to resume")
            sys.exit(rv)
        return None
    except TwofacedError as exc:
        if os.environ.get("TWOFACED_DEBUG"):
            raise
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2 if isinstance(exc, ConfigError) else 1)
    except KeyboardInterrupt:
        err.print("interrupted: finished items are stored; rerun the same command to resume")
        sys.exit(130)
    except typer.Abort:
        err.print("interrupted: finished items are stored; rerun the same command to resume")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click usage errors and friends
        if isinstance(exc, _CLICK_ERRORS):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":  # pragma: no cover
    main()
