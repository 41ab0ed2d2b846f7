"""AUROC of scores against 0/1 labels, its variance and its interval. Pure functions, no I/O.

AUROC is the Mann-Whitney statistic ``U / (m n)`` over ``m`` positives and ``n`` negatives (ties count one
half): the chance that a random positive scores above a random negative. It is computed from scipy's midranks
(``rankdata``), so it equals ``mannwhitneyu(pos, neg).statistic / (m n)`` and sklearn's ``roc_auc_score``.
With a class absent it is undefined: ``auroc`` returns None, ``auroc_interval`` an interval of Nones.

Intervals, and what each assumes:

- **DeLong et al. (1988)**, with midranks (Sun & Xu 2014): a nonparametric variance ``var(V10)/m + var(V01)/n``
  from the per-item structural components; the interval ``AUROC ± z·sqrt(var)`` assumes the items are
  independent and the AUROC roughly normal (fine from a few dozen per class, away from 0 and 1). It is 0 at
  perfect separation and undefined with fewer than two items in a class.
- **Hanley & McNeil (1982)**: a variance from the AUROC and the class sizes alone, assuming the scores follow
  the exponential (binormal-like) model behind ``Q1 = A/(2-A)``, ``Q2 = 2A²/(1+A)``.
- **Newcombe (2006), method 5**: the score interval on Newcombe's symmetric Hanley-McNeil variance; it
  solves ``(A - θ)² = z² V(θ)`` for θ, so it never collapses to a point and is the fallback where DeLong
  cannot be used (a class of one item, perfect separation).

scipy is imported inside the functions, so importing ``twofaced.stats`` stays cheap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

METHOD_DELONG = "delong"
METHOD_SCORE = "hanley-mcneil-score (newcombe 2006 method 5)"


@dataclass(frozen=True, slots=True)
class AurocInterval:
    """AUROC with its interval, variance and the method that gave them; the estimates are None when a class
    is missing. ``n_pos`` and ``n_neg`` count the items labelled 1 and 0."""

    estimate: float | None
    low: float | None
    high: float | None
    variance: float | None
    method: str | None
    n_pos: int
    n_neg: int


def _split(scores: Sequence[float], labels: Sequence[int]) -> tuple[list[float], list[float]]:
    pos: list[float] = []
    neg: list[float] = []
    for s, y in zip(scores, labels, strict=True):
        if y == 1:
            pos.append(float(s))
        elif y == 0:
            neg.append(float(s))
        else:
            raise ValueError(f"labels must be 0 or 1, got {y!r}")
    return pos, neg


def midranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, tied values sharing the mean of their ranks (scipy's ``rankdata``, method "average")."""
    if not len(values):
        return []
    from scipy.stats import rankdata

    return [float(r) for r in rankdata(values)]


def _auc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    m, n = len(positives), len(negatives)
    ranks = midranks([*positives, *negatives])
    return (sum(ranks[:m]) - m * (m + 1) / 2) / (m * n)


def auroc(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    """Mann-Whitney AUROC of ``scores`` for ``labels`` (1 positive, 0 negative), ties one half.

    None when a class is absent; a label other than 0/1 raises ValueError.

    >>> auroc([0.9, 0.4, 0.4, 0.1], [1, 1, 0, 0])
    0.875
    """
    pos, neg = _split(scores, labels)
    if not pos or not neg:
        return None
    return _auc(pos, neg)


def delong(positives: Sequence[float], negatives: Sequence[float]) -> tuple[float, float]:
    """(AUROC, DeLong variance) of the scores of the positive class against those of the negative class.

    Structural components: V10_i = share of negatives below positive i (ties one half), V01_j = share of
    positives above negative j; variance = var(V10)/m + var(V01)/n with sample variances (ddof 1). Assumes
    independent items; needs m, n >= 2 (ValueError otherwise).
    """
    m, n = len(positives), len(negatives)
    if m < 2 or n < 2:
        raise ValueError(f"DeLong needs at least 2 scores per class, got {m} and {n}")
    z = midranks([*positives, *negatives])
    rx, ry = midranks(positives), midranks(negatives)
    v10 = [(z[i] - rx[i]) / n for i in range(m)]
    v01 = [1 - (z[m + j] - ry[j]) / m for j in range(n)]

    def var(xs: list[float]) -> float:
        mean = sum(xs) / len(xs)
        return sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)

    return sum(v10) / m, var(v10) / m + var(v01) / n


def hanley_mcneil_variance(auc: float, m: int, n: int) -> float:
    """Hanley & McNeil (1982) variance of an AUROC from m positives and n negatives (exponential model)."""
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    return (auc * (1 - auc) + (m - 1) * (q1 - auc * auc) + (n - 1) * (q2 - auc * auc)) / (m * n)


def newcombe_auroc_variance(theta: float, m: int, n: int) -> float:
    """Newcombe's (2006) symmetric Hanley-McNeil variance at AUROC ``theta``: m-1 and n-1 both become N/2-1."""
    half = (m + n) / 2 - 1
    return theta * (1 - theta) / (m * n) * (1 + half * ((1 - theta) / (2 - theta) + theta / (1 + theta)))


def newcombe_score_interval(auc: float, m: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Newcombe (2006) method 5: the θ on each side of ``auc`` where (auc - θ)^2 = z^2 V(θ). Never a point.

    V is :func:`newcombe_auroc_variance`, so the interval inherits the Hanley-McNeil exponential model; it
    needs only the AUROC and the class sizes, which is why it still works at perfect separation.
    """
    z = NormalDist().inv_cdf(0.5 + confidence / 2)

    def f(theta: float) -> float:
        return (auc - theta) ** 2 - z * z * newcombe_auroc_variance(theta, m, n)

    def root(outside: float, inside: float) -> float:
        # f(outside) > 0 (far from auc), f(inside) <= 0 (at auc): bisect the sign change between them.
        if f(outside) <= 0:
            return outside
        for _ in range(100):
            mid = (outside + inside) / 2
            if f(mid) > 0:
                outside = mid
            else:
                inside = mid
        return (outside + inside) / 2

    return root(0.0, auc), root(1.0, auc)


def auroc_interval(scores: Sequence[float], labels: Sequence[int], confidence: float = 0.95) -> AurocInterval:
    """AUROC of ``scores`` for ``labels`` (1 positive, 0 negative) with a ``confidence`` interval.

    DeLong's interval where it is defined and not degenerate (at least two items per class, variance > 0),
    otherwise Newcombe's score interval; ``method`` names the one used. Bounds are clipped to [0, 1]. With a
    class absent every estimate is None.
    """
    pos, neg = _split(scores, labels)
    m, n = len(pos), len(neg)
    if not m or not n:
        return AurocInterval(None, None, None, None, None, m, n)
    if m >= 2 and n >= 2:
        auc, variance = delong(pos, neg)
        if variance > 0:
            z = NormalDist().inv_cdf(0.5 + confidence / 2)
            half = z * math.sqrt(variance)
            return AurocInterval(auc, max(0.0, auc - half), min(1.0, auc + half), variance, METHOD_DELONG, m, n)
    else:
        auc = _auc(pos, neg)
    low, high = newcombe_score_interval(auc, m, n, confidence)
    variance = newcombe_auroc_variance(auc, m, n)
    return AurocInterval(auc, max(0.0, low), min(1.0, high), variance, METHOD_SCORE, m, n)


def mann_whitney_p(positives: Sequence[float], negatives: Sequence[float]) -> float | None:
    """Two-sided Mann-Whitney U p-value (AUROC = 0.5 under the null); None when it is undefined.

    Assumes independent items; scipy picks the exact or the tie-corrected normal method. Every score equal
    gives 1.0 (no evidence of any difference).
    """
    if not positives or not negatives:
        return None
    if len({*positives, *negatives}) == 1:
        return 1.0
    from scipy.stats import mannwhitneyu

    p = float(mannwhitneyu(positives, negatives, alternative="two-sided").pvalue)
    return None if math.isnan(p) else p
