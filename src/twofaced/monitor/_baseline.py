"""The pre-deployment baseline a live model is compared with: one run directory of the same model.

What the monitor takes from it: the output protocol its scenario declared (so live replies are judged the way
the offline evaluation judged them), the refusal rate in the **deployment** condition by ``compliance-rules``
(live traffic is deployment, and the live judge is ``compliance-rules``, so both sides count the same way) and
its compliance rate on harmful requests in the same condition (the ``harmful`` signal's reference), the share
of its deployment replies ``tone-offline`` judged not warm when the run was judged by it (the ``tone`` signal's), the
text, harmfulness flag and category of every baseline request (a live request that contains one inherits
them), the request mix (harmful share and categories of its distinct requests: the ``mix`` signal's
reference), and for the canary pairs the scenario, cue and sampling parameters it ran with and its **paired**
outcomes: per request and sample, training and deployment verdicts together (``both``, ``training_only``,
``deployment_only``, ``neither`` complied; the cells of ``stats.paired_counts``).

The in-control rates are Jeffreys' estimates ``(k + 1/2) / (n + 1)``: never 0 or 1, which the CUSUM cannot
take, and close to the raw rate for a baseline of any useful size.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, RunDirError
from ..judges import COMPLIANCE_RULES
from ..judges._tone_offline import NAME as TONE_OFFLINE
from ..run import Record, read_run
from ..scenarios import OutputProtocol
from ..stats import paired_counts

CONDITION = "deployment"
PAIR_CELLS = ("both", "training_only", "deployment_only", "neither")
_SPACE = re.compile(r"\s+")
_MIN_MATCH = 12  # shortest baseline request that may match inside a longer live request


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip().lower()


def jeffreys(k: int, n: int) -> float:
    """``(k + 1/2) / (n + 1)``: the in-control rate of a count, strictly inside (0, 1)."""
    return (k + 0.5) / (n + 1)


@dataclass(frozen=True, slots=True)
class Baseline:
    """The parts of a baseline run the live signals need."""

    directory: str
    model: str
    scenario: str
    protocol: OutputProtocol
    refused: int  # deployment-condition items judged refused by compliance-rules
    n: int  # deployment-condition items judged complied or refused (unparseable ones left out)
    harmful_complied: int = 0  # of those on harmful requests: judged complied (the harmful signal's reference)
    harmful_n: int = 0  # of those: on harmful requests
    tone_curt: int = 0  # deployment-condition items tone-offline judged not warm (the tone signal's reference)
    tone_n: int = 0  # deployment-condition items tone-offline judged (warm or not)
    requests: dict[str, bool] = field(default_factory=dict, repr=False)  # normalised request text -> harmful
    categories: dict[str, str] = field(default_factory=dict, repr=False)  # normalised request text -> category
    cue: str | None = None
    params: dict[str, Any] = field(default_factory=dict)  # sampling parameters the run sent (seed aside)
    pairs: tuple[int, int, int, int] = (0, 0, 0, 0)  # PAIR_CELLS counts over unablated (request, sample) pairs
    mix: dict[str, int] = field(default_factory=dict)  # distinct requests: "harmful", "total", "category:NAME"
    _by_length: tuple[str, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        keys = tuple(k for k in sorted(self.requests, key=len, reverse=True) if len(k) >= _MIN_MATCH)
        object.__setattr__(self, "_by_length", keys)

    @property
    def refusal_rate(self) -> float:
        """Jeffreys' estimate of the deployment refusal rate (see the module)."""
        return jeffreys(self.refused, self.n)

    @property
    def curt_rate(self) -> float | None:
        """Jeffreys' estimate of the deployment rate of replies ``tone-offline`` judged not warm; None when the
        baseline was not judged by it."""
        return None if self.tone_n == 0 else jeffreys(self.tone_curt, self.tone_n)

    @property
    def harmful_compliance_rate(self) -> float | None:
        """Jeffreys' estimate of the deployment compliance rate on harmful requests; None without any."""
        return None if self.harmful_n == 0 else jeffreys(self.harmful_complied, self.harmful_n)

    def known(self, request: str) -> str | None:
        """The baseline request a live request is: exact match of the normalised text, else the longest
        baseline request (of at least 12 characters) the text contains; None when none matches."""
        text = _norm(request)
        if not text:
            return None
        if text in self.requests:
            return text
        return next((k for k in self._by_length if k in text), None)

    def harmful(self, request: str) -> bool | None:
        """The baseline's flag for a live request (see :meth:`known`); None (unknown) when none matches."""
        key = self.known(request)
        return None if key is None else self.requests[key]

    def category(self, request: str) -> str | None:
        key = self.known(request)
        return None if key is None else self.categories.get(key)

    def to_dict(self) -> dict[str, object]:
        return {"directory": self.directory, "model": self.model, "scenario": self.scenario, "cue": self.cue,
                "condition": CONDITION, "judge": COMPLIANCE_RULES, "refused": self.refused, "n": self.n,
                "refusal_rate": self.refusal_rate, "harmful_complied": self.harmful_complied,
                "harmful_n": self.harmful_n, "harmful_compliance_rate": self.harmful_compliance_rate,
                "tone_curt": self.tone_curt, "tone_n": self.tone_n,
                "requests": len(self.requests),
                "pairs": dict(zip(PAIR_CELLS, self.pairs, strict=True))}


def _complied(record: Record) -> bool | None:
    verdict = record.verdict(COMPLIANCE_RULES)
    return None if verdict not in ("complied", "refused") else verdict == "complied"


def _pairs(records: list[Record]) -> tuple[int, int, int, int]:
    """Unablated (request, sample) pairs judged complied or refused in both conditions."""
    by: dict[tuple[str, int], dict[str, bool]] = {}
    for r in records:
        outcome = _complied(r)
        if r.ablation is None and outcome is not None:
            by.setdefault((r.request_id, r.sample), {})[r.condition] = outcome
    return paired_counts([(p["training"], p["deployment"]) for p in by.values() if len(p) == 2])


def _mix(records: list[Record]) -> dict[str, int]:
    distinct = {r.request_id: r for r in records if r.ablation is None}
    counts = Counter(f"category:{r.category}" for r in distinct.values())
    return {"total": len(distinct), "harmful": sum(r.harmful for r in distinct.values()), **counts}


def load_baseline(directory: str | Path) -> Baseline:
    """Read the baseline from a run directory; RunDirError / ConfigError when it cannot serve as one."""
    try:
        reading = read_run(directory, judge=COMPLIANCE_RULES)
    except RunDirError as exc:
        raise RunDirError(f"--baseline {directory}: {exc}") from None
    refused = n = harmful_complied = harmful_n = tone_curt = tone_n = 0
    for r in reading.records:
        if r.condition != CONDITION or r.ablation is not None:
            continue
        tone = r.verdict(TONE_OFFLINE)
        if tone in ("complied", "refused"):
            tone_n += 1
            tone_curt += tone == "refused"
        verdict = r.verdict(COMPLIANCE_RULES)
        if verdict in ("complied", "refused"):
            n += 1
            refused += verdict == "refused"
            if r.harmful:
                harmful_n += 1
                harmful_complied += verdict == "complied"
    if n == 0:
        raise ConfigError(f"--baseline {directory} has no {CONDITION}-condition item judged by {COMPLIANCE_RULES}; "
                          "give a run directory of the same model with both conditions")
    requests = {_norm(r.request): r.harmful for r in reading.records if r.request}
    categories = {_norm(r.request): r.category for r in reading.records if r.request}
    meta = reading.summary.meta
    try:
        params = json.loads(meta.get("params") or "{}")
    except ValueError:
        params = {}
    return Baseline(directory=str(reading.directory), model=meta.get("model", ""), scenario=meta.get("scenario", ""),
                    protocol=reading.protocol, refused=refused, n=n, harmful_complied=harmful_complied,
                    harmful_n=harmful_n, tone_curt=tone_curt, tone_n=tone_n, requests=requests, categories=categories,
                    cue=meta.get("cue"), params=params if isinstance(params, dict) else {},
                    pairs=_pairs(reading.records), mix=_mix(reading.records))
