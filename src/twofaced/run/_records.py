"""Read a run back as one record per item: the item, its completion, and every judge's verdict on it.

Who calls: the summary, judges (to find what is not judged yet), the report and compare. Read-only.

A judge is named ``NAME`` or, for one judge model, ``NAME@MODEL`` (``NAME@`` for a judge without a model).
A record carries every judge identity's verdict in ``by_model`` (keyed by (name, judge model); of several
versions, the most recent), and under each judge's name in ``verdicts`` the verdict of that judge's default
model: the judge model whose newest usable (non-``error``) verdict is the newest, so a later judge run that
failed on every item never hides an earlier good one; a judge with only errors defaults to its newest model.
One default per name for the whole run, never mixed per item. All verdicts stay in the store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..scenarios import OutputProtocol
from ._store import Store, VerdictRow


@dataclass(slots=True)
class Record:
    item_id: str
    seq: int
    model: str
    condition: str
    ablation: str | None
    request_id: str
    category: str
    harmful: bool
    sample: int
    request: str
    status: str
    text: str | None = None
    turns: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    stop_reason: str | None = None  # why the conversation loop ended (``judges/_parse.py``); None if unknown
    prompt_tokens: int = 0
    completion_tokens: int = 0
    verdicts: dict[str, VerdictRow] = field(default_factory=dict)  # per judge name: its default model's
    by_model: dict[tuple[str, str], VerdictRow] = field(default_factory=dict)  # per (judge, judge model)

    def verdict_row(self, judge: str) -> VerdictRow | None:
        """The verdict of ``judge``: ``NAME`` (its default model) or ``NAME@MODEL``."""
        name, at, model = judge.partition("@")
        return self.by_model.get((name, model)) if at else self.verdicts.get(name)

    def verdict(self, judge: str) -> str | None:
        v = self.verdict_row(judge)
        return None if v is None else v.verdict


def judge_key(name: str, model: str) -> str:
    """The ``NAME@MODEL`` form of a judge identity (``NAME@`` when the judge has no model)."""
    return f"{name}@{model}"


def _request_from_messages(messages: str) -> str:
    turns = json.loads(messages)
    return next((m["content"] for m in turns if m["role"] == "user"), "")


def load_records(store: Store, *, done_only: bool = True) -> list[Record]:
    """All items (or only done ones) in expansion order, with completion and latest verdict per judge."""
    records: dict[str, Record] = {}
    for r in store.items_with_completions(done_only=done_only):
        records[r.id] = Record(
            item_id=r.id, seq=r.seq, model=r.model_spec, condition=r.condition, ablation=r.ablation,
            request_id=r.request_id, category=r.category, harmful=r.harmful, sample=r.sample,
            request=r.request if r.request is not None else _request_from_messages(r.messages), status=r.status,
            text=r.text, turns=r.turns, finish_reason=r.finish_reason, stop_reason=r.stop_reason,
            prompt_tokens=r.prompt_tokens,
            completion_tokens=r.completion_tokens,
        )
    newest: dict[tuple[str, str], tuple[float, float]] = {}  # (judge, model) -> (newest usable, newest any)
    for item_id, verdict in store.verdicts():  # oldest first: a later version replaces an earlier one
        rec = records.get(item_id)
        if rec is not None:
            key = (verdict.judge, verdict.judge_model)
            rec.by_model[key] = verdict
            usable, any_ = newest.get(key, (-1.0, -1.0))
            newest[key] = (max(usable, verdict.created_at if verdict.verdict != "error" else -1.0),
                           max(any_, verdict.created_at))
    default: dict[str, tuple[tuple[float, float], str]] = {}
    for (name, model), times in newest.items():
        if name not in default or times > default[name][0]:
            default[name] = (times, model)
    for rec in records.values():
        for name, (_, model) in default.items():
            v = rec.by_model.get((name, model))
            if v is not None:
                rec.verdicts[name] = v
    return list(records.values())


def judge_runs(records: list[Record]) -> list[tuple[str, str, int, int]]:
    """(judge, judge model, verdicts, errors) of every judge identity on these records, by name then model."""
    counts: dict[tuple[str, str], list[int]] = {}
    for r in records:
        for key, v in r.by_model.items():
            c = counts.setdefault(key, [0, 0])
            c[0] += 1
            c[1] += v.verdict == "error"
    return [(name, model, n, e) for (name, model), (n, e) in sorted(counts.items())]


def protocol_of(meta: dict[str, str]) -> OutputProtocol:
    """The output protocol a run's ``meta`` declares (the default one for directories made before 0.1)."""
    raw = meta.get("protocol")
    return OutputProtocol.model_validate(json.loads(raw)) if raw else OutputProtocol()


def stored_protocol(store: Store) -> OutputProtocol:
    """The output protocol the run's scenario declared (the default one for directories made before 0.1)."""
    return protocol_of(store.meta())


def judges_present(records: list[Record]) -> set[str]:
    return {name for r in records for name, v in r.verdicts.items() if v.verdict != "error"}


def as_dict(record: Record, judges: tuple[str | None, ...] = ()) -> dict[str, Any]:
    """JSON-ready form of a record (for the report and --json outputs): each judge name's verdict, of its default
    model, or of the model a ``NAME@MODEL`` in ``judges`` names (the judges a summary chose)."""
    verdicts = dict(record.verdicts)
    for key in judges:
        if key is not None:
            v = record.verdict_row(key)
            if v is None:
                verdicts.pop(key.partition("@")[0], None)
            else:
                verdicts[v.judge] = v
    return {
        "item_id": record.item_id, "model": record.model, "condition": record.condition,
        "ablation": record.ablation, "request_id": record.request_id, "category": record.category,
        "harmful": record.harmful, "sample": record.sample, "request": record.request, "text": record.text,
        "turns": record.turns, "finish_reason": record.finish_reason, "stop_reason": record.stop_reason,
        "verdicts": {k: {"verdict": v.verdict, "score": v.score, "rationale": v.rationale, "version": v.version,
                         "judge_model": v.judge_model or None} for k, v in verdicts.items()},
    }
