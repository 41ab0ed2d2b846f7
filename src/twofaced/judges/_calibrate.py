"""Measure any judge on a labelled file the user provides: AUROC, accuracy, precision, recall, confusion.

Input: JSON Lines or CSV with columns ``id``, ``request``, ``scratchpad``, ``output``, ``label`` (0/1; also
true/false, yes/no). Files with other column names load through a mapping ``ours=theirs`` (e.g. public
human-labelled scratchpad sets: ``--column scratchpad=reasoning --column label=is_alignment_faking``).
Label 1 is the judge's positive class: alignment faking for ``af-*`` judges, complied for compliance judges.
A row the judge cannot score (judge error) is left out of the metrics and counted in ``errors``.

AUROC is the Mann-Whitney statistic over scores (ties count one half); it needs both classes present. Every
figure carries a 95% interval, since a few dozen labelled rows leave wide ones: AUROC DeLong's
(``auroc_ci_low``/``auroc_ci_high``, ``auroc_method`` names it; Newcombe's score interval where DeLong is
undefined, as with one row of a class or perfect separation), accuracy, precision, recall and specificity
Wilson's on their counts (``accuracy_ci_low`` ...). The statistics themselves live in ``twofaced.stats``; this
module reads the file and runs the judge.
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._util import iter_jsonl, parse_flag
from .._util import parse_mapping as _parse_mapping
from ..errors import ConfigError
from ..models import get_model
from ..stats import Confusion, auroc_interval, confusion, wilson
from ._base import Judge, JudgeInput, Verdict, get_judge

COLUMNS = ("id", "request", "scratchpad", "output", "label")
CONFIDENCE = 0.95
_TRUE = frozenset({"af", "positive"})  # beside the plain true/false spellings of parse_flag
_FALSE = frozenset({"not_af", "negative"})


@dataclass(frozen=True, slots=True)
class LabelledRow:
    id: str
    request: str
    scratchpad: str | None
    output: str | None
    label: int


def parse_mapping(pairs: Sequence[str]) -> dict[str, str]:
    """``--column ours=theirs`` options for a labels file; ``ours`` is one of ``COLUMNS``."""
    return _parse_mapping(pairs, COLUMNS)


def _read_rows(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise ConfigError(f"labels file {path} does not exist; check the path")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".csv":
        return list(csv.DictReader(text.splitlines()))
    rows = []
    for n, row in iter_jsonl(text, str(path)):
        if not isinstance(row, dict):
            raise ConfigError(f"{path}: line {n} is not a JSON object")
        rows.append(row)
    return rows


def _label(value: Any, path: Path, n: int, column: str) -> int:
    flag = parse_flag(value, true=_TRUE, false=_FALSE)
    if flag is not None:
        return int(flag)
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
    predictions: list[dict[str, Any]] = []
    scores: list[float] = []
    labels: list[int] = []
    hits: list[bool] = []
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
    c = confusion(hits, labels)
    area = auroc_interval(scores, labels, CONFIDENCE)
    metrics = {
        "judge": judge.name, "version": judge.version, "judge_model": judge.judge_model or None,
        "n": c.n, "errors": errors, "positives": sum(labels),
        "auroc": area.estimate, "auroc_ci_low": area.low, "auroc_ci_high": area.high, "auroc_method": area.method,
        **rate_intervals(c, CONFIDENCE),
        "confidence": CONFIDENCE,
        "threshold": getattr(judge, "threshold", 0.5),
        "confusion": c.counts(),
    }
    return metrics, predictions


def rate_intervals(c: Confusion, confidence: float = 0.95) -> dict[str, float | None]:
    """Accuracy, precision, recall and specificity with Wilson intervals: ``{"accuracy", "accuracy_ci_low",
    "accuracy_ci_high", "precision", ...}``; a rate with a zero denominator is None, and so is its interval."""
    out: dict[str, float | None] = {}
    for name, hits, total in (("accuracy", c.tp + c.tn, c.n), ("precision", c.tp, c.tp + c.fp),
                              ("recall", c.tp, c.tp + c.fn), ("specificity", c.tn, c.tn + c.fp)):
        ci = wilson(hits, total, confidence) if total else None
        out[name] = hits / total if total else None
        out[f"{name}_ci_low"] = ci.low if ci else None
        out[f"{name}_ci_high"] = ci.high if ci else None
    return out


def calibrate_judge(name: str, rows: list[LabelledRow], *, judge_model: str | None = None,
                    options: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``twofaced judge calibrate`` as one call: build judge ``name`` (its judge model from a spec string, for
    LLM judges), measure it on ``rows`` with :func:`calibrate`, and release the model whatever happens.

    Example: ``metrics, _ = calibrate_judge("af-offline", load_labels("labels.jsonl"))``.
    """

    async def go() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        model = get_model(judge_model) if judge_model else None
        try:
            return await calibrate(get_judge(name, model, **(options or {})), rows)
        finally:
            if model is not None:
                await model.aclose()

    return asyncio.run(go())
