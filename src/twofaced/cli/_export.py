"""``twofaced export DIR --format jsonl|csv``: every item of a run with its messages, completion and verdicts."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ..run import export_run, iter_export
from ._app import app


class ExportFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"


@app.command()
def export(
    directory: Annotated[Path, typer.Argument(help="A run directory.")],
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f", help="jsonl (one nested object per item) or csv "
                                              "(one flat row per item, a column per judge).")] = ExportFormat.jsonl,
    out_file: Annotated[str | None, typer.Option("--out", "-o", help="File to write (default DIR/export.FORMAT); "
                                                 "'-' writes to stdout.")] = None,
) -> None:
    """Write every item of a run (done, failed and pending) with the messages sent, the completion, usage and
    every verdict of every judge; prints the path written."""
    if out_file == "-":
        for chunk in iter_export(directory, fmt.value):
            sys.stdout.write(chunk)
        return
    print(export_run(directory, fmt.value, out_file))
