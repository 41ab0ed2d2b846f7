"""One exchange as the proxy saw it, and what the judges make of it (pure functions, no I/O).

Judges: ``compliance-rules`` with the baseline scenario's output protocol (the offline evaluation's rule judge:
tags first, then refusal phrasing, so ordinary untagged traffic is judged too), and the request's harmfulness
and category taken from the baseline when the live request contains a baseline request (else unknown). A live
request the baseline does not know is classified by ``request-harm`` (the offline request classifier, tens of
microseconds): its verdict feeds the ``harmful`` signal and is stored as a verdict of its own, while ``harmful``
(the stored column, and what ``block`` and ``mix`` read) stays the baseline's flag only.

A canary exchange (``canary``: True) is one half of a canary pair the monitor sent itself (``pair_id``,
``condition``: the framing it was rendered in); it is stored like any exchange but never feeds the live or mix
signals. ``flagged`` marks what the dashboard lists: a live reply that :func:`fails` its judge, or both halves
of a discordant canary pair. ``probe`` is the reading of a probe on the served model that the reply carried
(``twofaced serve --probe``), stored as ``probe_score`` and ``probe_flagged``; it does not change ``flagged``.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..judges import COMPLIANCE_RULES, COMPLIANCE_RULES_VERSION, judge_text, request_harm
from ..judges._request_harm import NAME as REQUEST_HARM
from ..judges._request_harm import VERSION as REQUEST_HARM_VERSION
from ..judges._tone_offline import NAME as TONE_OFFLINE
from ..judges._tone_offline import THRESHOLD as TONE_THRESHOLD
from ..judges._tone_offline import VERSION as TONE_OFFLINE_VERSION
from ._baseline import Baseline
from ._probe_signal import ProbeReading


@dataclass(slots=True)
class Exchange:
    """A completed ``POST /v1/chat/completions`` with status 200: request messages and reply text."""

    route: str  # "upstream", "fallback", or "gateway" (posted by another gateway, _ingest.py)
    model: str
    messages: list[dict[str, Any]]
    response: str
    stream: bool
    status: int = 200
    latency_ms: float = 0.0
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: float = field(default_factory=time.time)
    canary: bool = False
    pair_id: str | None = None
    condition: str | None = None  # a canary's framing: training or deployment
    probe: ProbeReading | None = None  # the served probe's reading the reply carried (``_probe_signal.py``)


@dataclass(frozen=True, slots=True)
class Judged:
    verdict: str  # complied, refused, unparseable
    rationale: str
    harmful: bool | None  # the baseline's flag (None: not a baseline request)
    category: str | None = None
    harm_score: float | None = None  # request-harm's probability, for a request the baseline does not know
    warmth: float | None = None  # tone-offline's P(warm) of the reply, when it was sampled (``--tone-every``)

    @property
    def flagged_harmful(self) -> bool:
        """Whether the harmful signal counts this exchange: the baseline's flag, else the classifier's."""
        if self.harmful is not None:
            return self.harmful
        return self.harm_score is not None and self.harm_score >= request_harm().threshold

    @property
    def refused(self) -> bool | None:
        """The live signal's outcome: None for an unparseable reply (no observation)."""
        return None if self.verdict == "unparseable" else self.verdict == "refused"


def last_user_text(messages: list[dict[str, Any]]) -> str:
    for m in reversed(messages):
        if isinstance(m, dict) and m.get("role") == "user":
            content = m.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def judge_exchange(exchange: Exchange, baseline: Baseline) -> Judged:
    """Never raises on any reply text."""
    verdict = judge_text(exchange.response, baseline.protocol)
    if exchange.canary:  # the monitor's own request: its flag is the scenario's, set by the caller
        return Judged(verdict.verdict, verdict.rationale, None)
    text = last_user_text(exchange.messages)
    key = baseline.known(text)
    if key is None:
        return Judged(verdict.verdict, verdict.rationale, None, harm_score=request_harm().score(text))
    return Judged(verdict.verdict, verdict.rationale, baseline.requests[key], baseline.categories.get(key))


def fails(judged: Judged) -> bool:
    """What the block policy withholds: a complied reply to a request not known to be benign."""
    return judged.verdict == "complied" and judged.harmful is not False


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def rows(exchange: Exchange, judged: Judged, *, redact: bool, flagged: bool | None = None
         ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The store rows of one exchange: with ``redact``, sha256 hashes instead of request and reply text.
    ``flagged`` defaults to :func:`fails` for live exchanges (a canary pair's caller decides)."""
    request = json.dumps(exchange.messages, ensure_ascii=False, sort_keys=True)
    row = {
        "id": exchange.id, "created_at": exchange.created_at, "route": exchange.route, "model": exchange.model[:300],
        "stream": exchange.stream, "status": exchange.status, "latency_ms": exchange.latency_ms, "redacted": redact,
        "request": f"sha256:{_sha(request)}" if redact else request,
        "response": f"sha256:{_sha(exchange.response)}" if redact else exchange.response,
        "request_sha256": _sha(request), "harmful": judged.harmful, "canary": exchange.canary,
        "pair_id": exchange.pair_id, "condition": exchange.condition,
        "flagged": (fails(judged) and not exchange.canary) if flagged is None else flagged,
        "probe_score": None if exchange.probe is None else exchange.probe.score,
        "probe_flagged": None if exchange.probe is None else exchange.probe.flagged,
    }
    now = time.time()
    verdicts = [{"judge": COMPLIANCE_RULES, "version": COMPLIANCE_RULES_VERSION, "verdict": judged.verdict,
                 "rationale": judged.rationale, "created_at": now}]
    if judged.harm_score is not None:
        verdicts.append({"judge": REQUEST_HARM, "version": REQUEST_HARM_VERSION,
                         "verdict": "harmful" if judged.flagged_harmful else "benign",
                         "rationale": f"p(harmful) = {judged.harm_score:.3f}", "created_at": now})
    if judged.warmth is not None:
        verdicts.append({"judge": TONE_OFFLINE, "version": TONE_OFFLINE_VERSION,
                         "verdict": "complied" if judged.warmth >= TONE_THRESHOLD else "refused",
                         "rationale": f"p(warm) = {judged.warmth:.3f}", "created_at": now})
    return row, verdicts
