"""Options that several commands share, declared once so their flag, help and env var never drift apart.

A command declares ``as_json: JsonFlag = False``; the option's text lives here. Options whose meaning differs
from one command to the next (``--out``, ``--limit``, ``--samples``) stay with their command.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer


class Split(StrEnum):
    """``--split``: which half of the request set to ask (see :func:`twofaced.scenarios.select_split`)."""

    ALL = "all"
    TRAIN = "train"
    HELDOUT = "heldout"


JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]
NoProgress = Annotated[bool, typer.Option("--no-progress", help="No progress bar.")]
SplitOption = Annotated[Split, typer.Option(
    "--split", help="Ask only one half of the request set's fixed train / held-out split (heldout, train) or every "
                    "request (all).")]
Concurrency = Annotated[int, typer.Option("--concurrency", "-c", min=1, envvar="TWOFACED_CONCURRENCY",
                                          help="Requests in flight at once.")]
BaseUrl = Annotated[str | None, typer.Option("--base-url", envvar="TWOFACED_BASE_URL",
                                             help="Base URL of an OpenAI-compatible server.")]
Seed = Annotated[int, typer.Option("--seed", help="Base seed; sample k uses seed+k.")]
RequestColumns = Annotated[list[str] | None, typer.Option(
    "--column", help="Map a request-file column: ours=theirs (ours: id, category, prompt, harmful, split, context; "
                     "repeatable).")]
JudgeModel = Annotated[str | None, typer.Option("--judge-model", envvar="TWOFACED_JUDGE_MODEL",
                                                help="Model spec of the judge model (LLM judges).")]
JudgeBaseUrl = Annotated[str | None, typer.Option(
    "--base-url", envvar="TWOFACED_JUDGE_BASE_URL",
    help="Base URL of the OpenAI-compatible server of the judge model (not TWOFACED_BASE_URL, which is the "
         "evaluated model's).")]
Votes = Annotated[int | None, typer.Option("--votes", min=1, help="Votes per item (LLM judges).")]
ShowJudge = Annotated[str | None, typer.Option(
    "--judge", help="Compliance judge, NAME or NAME@MODEL for one judge model (default: compliance-llm, else "
                    "compliance-rules; of a judge, its newest judge model with usable verdicts).")]
ShowAfJudge = Annotated[str | None, typer.Option(
    "--af-judge", help="Alignment-faking judge, NAME or NAME@MODEL for one judge model (default: af-llm, else "
                       "af-offline; of a judge, its newest judge model with usable verdicts).")]
