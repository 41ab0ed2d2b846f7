"""``twofaced import inspect LOG --out DIR``: an Inspect AI eval log as a twofaced run directory."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ._app import app, err, out
from ._options import JsonFlag

import_app = typer.Typer(help="Import other tools' evaluation logs as twofaced run directories.", no_args_is_help=True)
app.add_typer(import_app, name="import")


@import_app.command("inspect")
def import_inspect_cmd(
    log: Annotated[Path, typer.Argument(help="An Inspect AI eval log (.eval or .json).")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="The run directory to write (created if needed).")],
    as_json: JsonFlag = False,
) -> None:
    """Import an Inspect AI eval log as a twofaced run directory.

    The log comes from the twofaced/paired task, or any task whose samples carry 'condition' metadata; then
    'twofaced show', 'judge run' and 'report' work on DIR. Importing the same log again adds nothing."""
    from ..interop import import_inspect_log

    summary = import_inspect_log(log, out_dir, argv=sys.argv[1:])
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    per = "; ".join(f"{c}: " + (", ".join(f"{k} {v}" for k, v in counts.items()) or "none")
                    for c, counts in summary["verdicts"].items())
    out.print(f"imported {summary['imported']} of {summary['samples']} samples ({escape(per)}) from "
              f"{escape(str(log))} into {escape(str(out_dir))}; see 'twofaced show {escape(str(out_dir))}'")
    if summary["already_imported"]:
        err.print(f"{summary['already_imported']} samples were already in {escape(str(out_dir))}")
    if summary["failed"]:
        err.print(f"{summary['failed']} samples had failed in Inspect; they are stored as failed items")
