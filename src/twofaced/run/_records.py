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
    records: dict[str, Record] = {}
    for r in store.items_with_completions(done_only=done_only):
        records[r.id] = Record(
            item_id=r.id, seq=r.seq, model=r.model_spec, condition=r.condition, ablation=r.ablation,
            request_id=r.request_id, category=r.category, harmful=r.harmful, sample=r.sample,
            request=r.request if r.request is not None else _request_from_messages(r.messages), status=r.status,
            text=r.text, turns=r.turns, finish_reason=r.finish_reason, prompt_tokens=r.prompt_tokens,
            completion_tokens=r.completion_tokens,
        )
    for item_id, verdict in store.verdicts():
        rec = records.get(item_id)
        if rec is not None:
            rec.verdicts[verdict.judge] = verdict
    return list(records.values())


def protocol_of(meta: dict[str, str]) -> OutputProtocol:
    """The output protocol a run's ``meta`` declares (the default one for directories made before 0.1)."""
    raw = meta.get("protocol")
    return OutputProtocol.model_validate(json.loads(raw)) if raw else OutputProtocol()


def stored_protocol(store: Store) -> OutputProtocol:
    """The output protocol the run's scenario declared (the default one for directories made before 0.1)."""
    return protocol_of(store.meta())


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
