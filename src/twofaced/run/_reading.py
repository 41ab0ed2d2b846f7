"""``read_run``: one read of a run directory, for readers that need more than the summary (the report).

Invariant: the store is opened once, the records are loaded once and the summary is computed from those same
records, so every number a reader shows comes from one consistent read; the store is closed before
``read_run`` returns, and the returned :class:`RunReading` holds only plain values.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import RunDirError
from ..scenarios import OutputProtocol
from ._records import Record, load_records, protocol_of
from ._store import Invocation, JudgeUsage, open_store
from ._summary import Summary, summarize


@dataclass(frozen=True, slots=True)
class RunReading:
    """What one read of a run directory found; ``summary.meta`` is the directory's identity."""

    directory: Path
    summary: Summary
    records: list[Record]  # done items in expansion order, latest verdict per judge (what the summary counts)
    protocol: OutputProtocol  # the output protocol the run's scenario declared
    invocations: list[Invocation]  # oldest first
    params: list[dict[str, Any]]  # each distinct set of generation parameters
    requests: list[tuple[str, str]]  # sorted distinct (request id, request text)
    judges: list[JudgeUsage]  # every judge identity that judged the run


def read_run(directory: str | Path, judge: str | None = None, af_judge: str | None = None) -> RunReading:
    """Read a run directory once: summary (judges picked as in ``twofaced show``), records and manifest inputs.

    Called by ``build_report_data``. Raises :class:`RunDirError` when DIR is not a run directory or has no
    completions yet. Example: ``reading = read_run("runs/x"); reading.summary.to_json()["gaps"]``.
    """
    directory = Path(directory)
    with open_store(directory, create=False) as store:
        if not store.completion_count():
            raise RunDirError(f"{directory} has no completions yet; run 'twofaced run' first")
        records = load_records(store)
        summary = summarize(store, judge, af_judge, records=records)
        return RunReading(
            directory=store.directory, summary=summary, records=records, protocol=protocol_of(summary.meta),
            invocations=store.invocations(), params=store.distinct_params(), requests=store.requests(),
            judges=store.judge_usage(),
        )
