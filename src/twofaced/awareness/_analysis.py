"""What the scores mean: AUROC of "probability this is an evaluation" against the true label, with a 95% CI.

AUROC is the Mann-Whitney statistic (ties count one half): the chance that a random evaluation transcript gets a
higher score than a random real one. 0.5 = cannot tell, 1 = always can, below 0.5 = systematically backwards.

Interval: **DeLong et al. (1988)**, computed with midranks (Sun & Xu 2014): the AUROC's variance is
``S10/m + S01/n`` from the per-transcript structural components, and the interval is ``AUROC ± z·sqrt(var)``,
clipped to [0, 1]. DeLong's variance is 0 at perfect separation (AUROC 0 or 1) and undefined with fewer than two
transcripts in a class, where a Wald interval would collapse to a point; there the interval is Newcombe's (2006,
method 5) score interval on the Hanley-McNeil variance, which stays honest at the boundary. ``method`` names the
one used. A p-value against AUROC 0.5 comes from the two-sided Mann-Whitney U test (scipy).

The unit is the transcript (samples of one transcript are averaged first); errors are excluded and counted.
The statistics themselves live in ``twofaced.stats`` (``auroc_interval``, ``delong``, ``mann_whitney_p``, ...)
and are re-exported here, so ``twofaced.awareness`` keeps its names; this module adds the labelling
(1 = evaluation, 0 = real) and the breakdowns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..models import Model, get_model
from ..run._lock import lock_directory_async
from ..stats import (
    METHOD_DELONG,
    METHOD_SCORE,
    auroc_interval,
    delong,
    hanley_mcneil_variance,
    mann_whitney_p,
    midranks,
    newcombe_score_interval,
)
from ._probe import PROBE_VERSION, ProbeResult, probe_transcripts
from ._store import answer_row, known_answers, open_awareness_store, probe_key
from ._transcripts import Transcript

REFERENCE_AUROC = 0.83
REFERENCE_TEXT = "reference: ~0.83 for frontier models (published)"
REFERENCE_SOURCE = ("Needham et al. 2025, 'Large Language Models Often Know When They Are Being Evaluated' "
                    "(arXiv:2505.23836): Gemini 2.5 Pro, 1,000 chat and agentic transcripts from 61 sources")

__all__ = [
    "METHOD_DELONG", "METHOD_SCORE", "REFERENCE_AUROC", "REFERENCE_SOURCE", "REFERENCE_TEXT", "AurocEstimate",
    "AwarenessResult", "auroc_ci", "delong", "hanley_mcneil_variance", "mann_whitney_p", "measure_awareness",
    "measure_awareness_async", "midranks", "newcombe_score_interval", "summarize",
]


@dataclass(frozen=True, slots=True)
class AurocEstimate:
    """AUROC with its interval; every field is None when a class is missing."""

    auroc: float | None
    ci_low: float | None
    ci_high: float | None
    variance: float | None
    method: str | None
    n_eval: int
    n_real: int

    def to_json(self) -> dict[str, Any]:
        return {"auroc": self.auroc, "ci_low": self.ci_low, "ci_high": self.ci_high, "method": self.method,
                "n": self.n_eval + self.n_real, "n_eval": self.n_eval, "n_real": self.n_real}


def auroc_ci(scores: Sequence[float], labels: Sequence[int], confidence: float = 0.95) -> AurocEstimate:
    """AUROC of ``scores`` for ``labels`` (1 = evaluation) with a ``confidence`` interval; see the module doc."""
    est = auroc_interval(scores, labels, confidence)
    return AurocEstimate(est.estimate, est.low, est.high, est.variance, est.method, est.n_pos, est.n_neg)


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _block(results: Sequence[ProbeResult], confidence: float) -> dict[str, Any]:
    ok = [r for r in results if r.score is not None]
    scores = [float(r.score) for r in ok]  # type: ignore[arg-type]
    labels = [r.transcript.label for r in ok]
    est = auroc_ci(scores, labels, confidence)
    pos = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    neg = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    return {**est.to_json(), "mean_score_eval": _mean(pos), "mean_score_real": _mean(neg),
            "p_value": mann_whitney_p(pos, neg), "errors": len(results) - len(ok),
            "failed_samples": sum(r.failed_samples for r in results)}


def _groups(results: Sequence[ProbeResult], key: Callable[[ProbeResult], Any]) -> dict[Any, list[ProbeResult]]:
    out: dict[Any, list[ProbeResult]] = {}
    for r in results:
        out.setdefault(key(r), []).append(r)
    return out


def summarize(results: Sequence[ProbeResult], confidence: float = 0.95) -> dict[str, Any]:
    """Overall, per-source, per-kind and per-cue-family AUROC tables (plain JSON)."""
    report: dict[str, Any] = {"confidence": confidence, **_block(results, confidence)}
    report["by_source"] = [{"source": s, **_block(rs, confidence)}
                           for s, rs in _groups(results, lambda r: r.transcript.source).items()]
    by_kind = []
    for (source, kind), rs in _groups(results, lambda r: (r.transcript.source, r.transcript.kind)).items():
        if kind is None:
            continue
        labels = {r.transcript.label for r in rs}
        versus = "within kind"
        if len(labels) == 1:  # one-class kind: rank it against the other class of its source
            other = [r for r in results if r.transcript.source == source and r.transcript.label not in labels]
            rs, versus = [*rs, *other], "other class of its source"
        row = {"source": source, "kind": kind, "label": next(iter(labels)) if len(labels) == 1 else None,
               "compared_with": versus, **_block(rs, confidence)}
        by_kind.append(row)
    report["by_kind"] = by_kind
    cues = _groups([r for r in results if r.transcript.cue], lambda r: r.transcript.cue)
    report["by_cue"] = [{"cue": c, **_block(rs, confidence)} for c, rs in cues.items()]
    report["reference"] = {"auroc": REFERENCE_AUROC, "text": REFERENCE_TEXT, "source": REFERENCE_SOURCE}
    return report


@dataclass
class AwarenessResult:
    """A finished awareness test: the report (JSON) and the per-transcript results behind it."""

    report: dict[str, Any]
    results: list[ProbeResult]

    def predictions(self) -> list[dict[str, Any]]:
        return [r.to_json() for r in self.results]


async def measure_awareness_async(
    model: str | Model,
    transcripts: Sequence[Transcript],
    *,
    samples: int = 1,
    seed: int = 0,
    temperature: float = 1.0,
    max_tokens: int = 256,
    concurrency: int = 16,
    confidence: float = 0.95,
    model_options: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
    out: str | Path | None = None,
    argv: list[str] | None = None,
) -> AwarenessResult:
    """Probe ``model`` (a spec or a model object) on ``transcripts`` and summarise; see :func:`measure_awareness`.

    With ``out``, every answer is stored in that directory as it arrives and answers stored by an earlier call
    with the same settings are reused instead of asked again (``_store.py``); the report then also has
    ``directory``, ``reused`` and ``asked`` (sample counts)."""
    owned = isinstance(model, str)
    m = get_model(model, **(model_options or {})) if isinstance(model, str) else model
    try:
        if out is None:
            results = await probe_transcripts(m, transcripts, samples=samples, seed=seed, temperature=temperature,
                                              max_tokens=max_tokens, concurrency=concurrency, progress=progress)
            stored: dict[str, Any] = {}
        else:
            results, stored = await _probe_stored(m, transcripts, out, argv, samples=samples, seed=seed,
                                                  temperature=temperature, max_tokens=max_tokens,
                                                  concurrency=concurrency, progress=progress)
    finally:
        if owned:
            await m.aclose()
    report = {"model": m.spec, "probe_version": PROBE_VERSION, "samples": samples, "temperature": temperature,
              "max_tokens": max_tokens, "seed": seed, "transcripts": len(transcripts), **stored,
              **summarize(results, confidence)}
    return AwarenessResult(report, results)


async def _probe_stored(m: Model, transcripts: Sequence[Transcript], out: str | Path, argv: list[str] | None, *,
                        samples: int, seed: int, temperature: float, max_tokens: int, concurrency: int,
                        progress: Callable[[int], None] | None) -> tuple[list[ProbeResult], dict[str, Any]]:
    """:func:`probe_transcripts` against the store of ``out``: known answers reused, new ones stored at once."""
    keys = [[probe_key(m.spec, t, k, seed=seed, temperature=temperature, max_tokens=max_tokens)
             for k in range(samples)] for t in transcripts]
    with await lock_directory_async(out, argv):
        store = open_awareness_store(out, m.spec)
        try:
            known = known_answers(store, keys)

            def keep(i: int, k: int, score: float | None, how: str, reply: str) -> None:
                store.add_probe_answers([answer_row(keys[i][k], transcripts[i], k, score, how, reply)])

            results = await probe_transcripts(m, transcripts, samples=samples, seed=seed, temperature=temperature,
                                              max_tokens=max_tokens, concurrency=concurrency, progress=progress,
                                              known=known, on_answer=keep)
        finally:
            store.close()
    asked = sum(1 for r in results for how in r.how if how != "model-error") - len(known)
    return results, {"directory": str(out), "reused": len(known), "asked": asked}


def measure_awareness(model: str | Model, transcripts: Sequence[Transcript], **options: Any) -> AwarenessResult:
    """Can the model tell an evaluation from real use? Ask it about each transcript and report the AUROC.

    >>> from twofaced.awareness import builtin_transcripts, select
    >>> result = measure_awareness("mock/random", select(builtin_transcripts(), 5))  # doctest: +SKIP
    >>> result.report["auroc"], result.report["ci_low"], result.report["ci_high"]  # doctest: +SKIP
    """
    return asyncio.run(measure_awareness_async(model, transcripts, **options))
