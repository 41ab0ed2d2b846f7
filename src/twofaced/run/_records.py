"""Read a run back as one record per item: the item, its completion, and every judge's verdict on it.

Who calls: the summary, judges (to find what is not judged yet), the report and compare. Read-only.
When a judge has judged an item more than once (another version or judge model), the most recent verdict
is the one a record carries under that judge's name; all of them stay in the store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..scenarios import OutputProtocol
from ._store import Store


@dataclass(frozen=True, slots=True)
class VerdictRow:
    judge: str
    version: str
    judge_model: str
    verdict: str
    score: float | None
    rationale: str | None
    created_at: float


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
    prompt_tokens: int = 0
    completion_tokens: int = 0
    verdicts: dict[str, VerdictRow] = field(default_factory=dict)

    def verdict(self, judge: str) -> str | None:
        v = self.verdicts.get(judge)
        return None if v is None else v.verdict


def _request_from_messages(messages: str) -> str:
    turns = json.loads(messages)
    return next((m["content"] for m in turns if m["role"] == "user"), "")


def load_records(store: Store, *, done_only: bool = True) -> list[Record]:
    """All items (or only done ones) in expansion order, with completion and latest verdict per judge."""
    sql = (
        "SELECT i.id, i.seq, i.model_spec, i.condition, i.ablation, i.request_id, i.category, i.harmful,"
        " i.sample, i.request, i.messages, i.status, c.text, c.turns, c.finish_reason, c.prompt_tokens,"
        " c.completion_tokens FROM items i LEFT JOIN completions c ON c.item_id = i.id"
        + (" WHERE i.status = 'done'" if done_only else "")
        + " ORDER BY i.seq"
    )
    records: dict[str, Record] = {}
    for r in store.conn.execute(sql):
        records[r[0]] = Record(
            item_id=r[0], seq=r[1], model=r[2], condition=r[3], ablation=r[4], request_id=r[5], category=r[6],
            harmful=bool(r[7]), sample=r[8], request=r[9] if r[9] is not None else _request_from_messages(r[10]),
            status=r[11], text=r[12], turns=json.loads(r[13]) if r[13] else [], finish_reason=r[14],
            prompt_tokens=r[15] or 0, completion_tokens=r[16] or 0,
        )
    for v in store.conn.execute(
        "SELECT item_id, judge, judge_version, judge_model, verdict, score, rationale, created_at FROM verdicts"
        " ORDER BY created_at"
    ):
        rec = records.get(v[0])
        if rec is not None:
            rec.verdicts[v[1]] = VerdictRow(*v[1:])
    return list(records.values())


def stored_protocol(store: Store) -> OutputProtocol:
    """The output protocol the run's scenario declared (the default one for directories made before 0.1)."""
    raw = store.meta().get("protocol")
    return OutputProtocol.model_validate(json.loads(raw)) if raw else OutputProtocol()


def judges_present(records: list[Record]) -> set[str]:
    return {name for r in records for name, v in r.verdicts.items() if v.verdict != "error"}


def as_dict(record: Record) -> dict[str, Any]:
    """JSON-ready form of a record (for the report and --json outputs)."""
    return {
        "item_id": record.item_id, "model": record.model, "condition": record.condition,
        "ablation": record.ablation, "request_id": record.request_id, "category": record.category,
        "harmful": record.harmful, "sample": record.sample, "request": record.request, "text": record.text,
        "turns": record.turns, "finish_reason": record.finish_reason,
        "verdicts": {k: {"verdict": v.verdict, "score": v.score, "rationale": v.rationale, "version": v.version,
                         "judge_model": v.judge_model or None} for k, v in record.verdicts.items()},
    }
