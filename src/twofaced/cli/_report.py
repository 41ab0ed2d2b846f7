"""``twofaced report``: write a run directory's report (self-contained HTML, Markdown or JSON)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ..report import write_report
from ._app import app
from ._options import ShowAfJudge, ShowJudge


class ReportFormat(StrEnum):
    html = "html"
    md = "md"
    json = "json"


@app.command()
def report(
    directory: Annotated[Path, typer.Argument(help="A run directory.")],
    out_file: Annotated[Path | None, typer.Option("--out", "-o", help="File to write (default DIR/report.FORMAT).")
                        ] = None,
    fmt: Annotated[ReportFormat, typer.Option("--format", "-f", help="html (one self-contained file), md or json.")
                   ] = ReportFormat.html,
    judge: ShowJudge = None,
    af_judge: ShowAfJudge = None,
) -> None:
    """Write the report of a run directory; an existing report is replaced only once the new one is complete."""
    path = write_report(directory, out_file, fmt.value, judge=judge, af_judge=af_judge)
    print(path)
