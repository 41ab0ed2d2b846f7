"""Measure any judge on a labelled file the user provides: AUROC, accuracy, precision, recall, confusion.

Input: JSON Lines or CSV with columns ``id``, ``request``, ``scratchpad``, ``output``, ``label`` (0/1; also
true/false, yes/no). Files with other column names load through a mapping ``ours=theirs`` (e.g. public
human-labelled scratchpad sets: ``--column scratchpad=reasoning --column label=is_alignment_faking``).
Label 1 is the judge's positive class: alignment faking for ``af-*`` judges, complied for compliance judges.
A row the judge cannot score (judge error) is left out of the metrics and counted in ``errors``.

AUROC is the Mann-Whitney statistic over scores (ties count one half); it needs both classes present.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ._base import Judge, JudgeInput, Verdict

COLUMNS = ("id", "request", "scratchpad", "output", "label")
_TRUE = {"1", "true", "yes", "y", "t", "af", "positive"}
_FALSE = {"0", "false", "no", "n", "f", "not_af", "negative"}


@dataclass(frozen=True, slots=True)
class LabelledRow:
    id: str
    request: str
    scratchpad: str | None
    output: str | None
    label: int


def parse_mapping(pairs: Sequence[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        ours, sep, theirs = pair.partition("=")
        if not sep or ours not in COLUMNS or not theirs:
            raise ConfigError(f"--column {pair!r}: use ours=theirs with ours one of {', '.join(COLUMNS)}")
        mapping[ours] = theirs
    return mapping


def _read_rows(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise ConfigError(f"labels file {path} does not exist; check the path")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".csv":
        return list(csv.DictReader(text.splitlines()))
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}: line {n} is not valid JSON ({exc.msg}); expected JSON Lines") from exc
            if not isinstance(row, dict):
                raise ConfigError(f"{path}: line {n} is not a JSON object")
            rows.append(row)
    return rows


def _label(value: Any, path: Path, n: int, column: str) -> int:
    s = str(value).strip().lower()
    if s in _TRUE:
        return 1
    if s in _FALSE:
        return 0
    raise ConfigError(f"{path}: row {n}: label {value!r} in column {column!r} is not 0/1, true/false or yes/no")


def load_labels(path: str | Path, mapping: dict[str, str] | None = None) -> list[LabelledRow]:
    path = Path(path)
    mapping = mapping or {}
    rows = _read_rows(path)
    if not rows:
        raise ConfigError(f"labels file {path} holds no rows")
    found = list(rows[0])
    col = {ours: mapping.get(ours, ours) for ours in COLUMNS}
    missing = [ours for ours in ("label",) if col[ours] not in found]
    if col["scratchpad"] not in found and col["output"] not in found:
        missing.append("scratchpad or output")
    if missing:
        raise ConfigError(
            f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(found)}); "
            f"map them with --column ours=theirs, e.g. --column label={found[-1]}"
        )
    out = []
    for n, row in enumerate(rows, 1):
        out.append(LabelledRow(
            id=str(row.get(col["id"], n)), request=str(row.get(col["request"]) or ""),
            scratchpad=row.get(col["scratchpad"]), output=row.get(col["output"]),
            label=_label(row.get(col["label"]), path, n, col["label"]),
        ))
    return out


def auroc(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    """Mann-Whitney AUROC with ties counted one half; None when a class is absent."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    neg = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    if not pos or not neg:
        return None
    ranked = sorted((s, i) for i, s in enumerate(scores))
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(ranked):
        j = i
        while j + 1 < len(ranked) and ranked[j + 1][0] == ranked[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[ranked[k][1]] = (i + j) / 2 + 1
        i = j + 1
    rank_sum = sum(r for r, y in zip(ranks, labels, strict=True) if y == 1)
    return (rank_sum - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))


def _positive(judge: Judge, v: Verdict) -> bool:
    return v.verdict == ("yes" if judge.kind == "alignment-faking" else "complied")


def _score(judge: Judge, v: Verdict) -> float:
    if v.score is not None:
        return float(v.score)
    return 1.0 if _positive(judge, v) else (0.5 if v.verdict == "partial" else 0.0)


async def calibrate(judge: Judge, rows: list[LabelledRow]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run ``judge`` on every row; return (metrics, predictions)."""
    inputs = [JudgeInput(r.id, r.request, r.scratchpad, r.output,
                         "\n".join(x for x in (r.scratchpad, r.output) if x)) for r in rows]
    verdicts = await judge.judge(inputs)
    predictions, scores, labels, hits = [], [], [], []
    errors = 0
    for row, v in zip(rows, verdicts, strict=True):
        if v.verdict == "error":
            errors += 1
            predictions.append({"id": row.id, "score": None, "verdict": None, "label": row.label, "error": v.rationale})
            continue
        score, positive = _score(judge, v), _positive(judge, v)
        predictions.append({"id": row.id, "score": score, "verdict": positive, "label": row.label})
        scores.append(score)
        labels.append(row.label)
        hits.append(positive)
    tp = sum(1 for h, y in zip(hits, labels, strict=True) if h and y)
    fp = sum(1 for h, y in zip(hits, labels, strict=True) if h and not y)
    fn = sum(1 for h, y in zip(hits, labels, strict=True) if not h and y)
    tn = len(labels) - tp - fp - fn
    n = len(labels)
    metrics = {
        "judge": judge.name, "version": judge.version, "judge_model": judge.judge_model or None,
        "n": n, "errors": errors, "positives": sum(labels),
        "auroc": auroc(scores, labels),
        "accuracy": (tp + tn) / n if n else None,
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "threshold": getattr(judge, "threshold", 0.5),
        "confusion": {"tp": tp, "fp": fp, "tn": tn, "fn": fn},
    }
    return metrics, predictions
