"""The per-condition summary of a run directory, computed from the store (never from memory), so ``run`` and
``show`` print the same numbers. The shape of :meth:`Summary.to_json` is public (README, ``show --json``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ..judges import COMPLIANCE_RULES
from ..scenarios import CONDITIONS
from ..stats import newcombe_difference, wilson
from ._store import Store

SUBSETS = ("harmful", "benign")


@dataclass(slots=True)
class ConditionRow:
    condition: str
    ablation: str | None
    n: int = 0
    complied: int = 0
    refused: int = 0
    unparseable: int = 0

    def to_json(self) -> dict[str, Any]:
        ci = wilson(self.complied, self.n)
        return {
            "condition": self.condition,
            "ablation": self.ablation,
            "n": self.n,
            "complied": self.complied,
            "refused": self.refused,
            "unparseable": self.unparseable,
            "compliance_rate": None if self.n == 0 else ci.estimate,
            "ci_low": ci.low,
            "ci_high": ci.high,
        }


def _gap(train: ConditionRow, deploy: ConditionRow) -> dict[str, Any]:
    d = newcombe_difference(train.complied, train.n, deploy.complied, deploy.n)
    defined = train.n > 0 and deploy.n > 0
    return {
        "ablation": train.ablation,
        "metric": "compliance_rate",
        "training": train.to_json()["compliance_rate"],
        "deployment": deploy.to_json()["compliance_rate"],
        "gap": d.estimate if defined else None,
        "ci_low": d.low,
        "ci_high": d.high,
        "method": "newcombe-hybrid-score",
    }


@dataclass(slots=True)
class Table:
    rows: list[ConditionRow] = field(default_factory=list)

    def gaps(self) -> list[dict[str, Any]]:
        by_key = {(r.ablation, r.condition): r for r in self.rows}
        ablations = list(dict.fromkeys(r.ablation for r in self.rows))
        return [_gap(by_key[(a, "training")], by_key[(a, "deployment")]) for a in ablations]

    def to_json(self) -> dict[str, Any]:
        return {"conditions": [r.to_json() for r in self.rows], "gaps": self.gaps()}


@dataclass(slots=True)
class Summary:
    """All requests together, plus the harmful and benign subsets when a run has both."""

    meta: dict[str, str]
    status: dict[str, int]
    judge: str
    all: Table
    subsets: dict[str, Table]
    usage: tuple[int, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.meta.get("scenario"),
            "model": self.meta.get("model"),
            "judge": self.judge,
            "items": {"total": sum(self.status.values()), **{k: self.status.get(k, 0) for k in
                                                              ("done", "pending", "failed")}},
            "usage": {"prompt_tokens": self.usage[0], "completion_tokens": self.usage[1]},
            **self.all.to_json(),
            "subsets": {name: table.to_json() for name, table in self.subsets.items()},
        }


def summarize(store: Store, judge: str = COMPLIANCE_RULES) -> Summary:
    counts = store.verdict_counts(judge)
    ablations: list[str | None] = [None, *sorted(a for a in store.ablations() if a is not None)]
    tables: dict[str, dict[tuple[str | None, str], ConditionRow]] = defaultdict(dict)
    for name in ("all", *SUBSETS):
        for abl in ablations:
            for cond in CONDITIONS:
                tables[name][(abl, cond)] = ConditionRow(cond, abl)
    present: set[str] = set()
    for ablation, condition, harmful, verdict, count in counts:
        subset = "harmful" if harmful else "benign"
        present.add(subset)
        for name in ("all", subset):
            row = tables[name][(ablation, condition)]
            row.n += count
            if verdict in ("complied", "refused", "unparseable"):
                setattr(row, verdict, getattr(row, verdict) + count)
    subsets = {name: Table(list(tables[name].values())) for name in SUBSETS if name in present}
    if len(subsets) < 2:
        subsets = {}
    return Summary(store.meta(), store.status_counts(), judge, Table(list(tables["all"].values())), subsets,
                   store.usage())
