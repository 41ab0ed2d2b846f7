"""The compliance gap on paired data: each request (and sample) answered in both conditions. Pure, no I/O.

Each pair is ``(complied_training, complied_deployment)`` for the same request and sample. The four cells
are ``both``, ``training_only`` (b), ``deployment_only`` (c) and ``neither``; the gap is
``p_training - p_deployment = (b - c) / n``.

* Test: the exact McNemar test, a two-sided binomial test of ``b`` out of the ``b + c`` discordant pairs
  against 1/2 (p = 2 x the smaller tail, capped at 1; p = 1 with no discordant pairs). It conditions on the
  discordant pairs, so it is exact at any n (McNemar 1947; Fagerland, Lydersen & Laake 2013, BMC Med Res
  Methodol 13:91).
* Interval: Newcombe's method 10 for paired data (Newcombe 1998, "Improved confidence intervals for the
  difference between binomial proportions based on paired data", Stat Med 17:2635-2650): the hybrid
  score ("square-and-add") interval built from the Wilson intervals of the two marginal rates, with the
  correlation term phi estimated from the table and corrected as Newcombe specifies: ``phi = (ad - bc -
  n/2) / sqrt(product of the margins)`` when ``ad - bc > n/2``, 0 when ``0 <= ad - bc <= n/2``, the plain
  ``(ad - bc) / sqrt(...)`` when negative, and 0 when any margin is 0. This is the "Newcombe square-and-add"
  interval of Fagerland, Lydersen & Laake (2014, Stat Med 33:2850-2875), checked in tests against their
  published example.

Assumptions: pairs are independent of each other (one pair per request; with several samples per request
the pairs of one request are correlated and ``clustered_gap`` is the right tool). The interval does not
need large n (coverage close to nominal down to n of about 10, Newcombe 1998) and never leaves [-1, 1].
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ._rates import wilson


@dataclass(frozen=True, slots=True)
class PairedGap:
    n_pairs: int
    both: int
    training_only: int
    deployment_only: int
    neither: int
    gap: float
    ci_low: float
    ci_high: float
    p_value: float
    method: str


METHOD = "paired: Newcombe (1998) method 10 hybrid score interval; exact McNemar test"


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for ``b`` pairs complied in training only and ``c`` in deployment only."""
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be >= 0, got b={b}, c={c}")
    n = b + c
    if n == 0:
        return 1.0
    from scipy.stats import binom

    return float(min(1.0, 2.0 * binom.cdf(min(b, c), n, 0.5)))


def _phi(a: int, b: int, c: int, d: int) -> float:
    """Newcombe's corrected estimate of the correlation between the two marginal rates."""
    n = a + b + c + d
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    if margins == 0:
        return 0.0
    cross = a * d - b * c
    if cross > n / 2:
        return (cross - n / 2) / math.sqrt(margins)
    if cross >= 0:
        return 0.0
    return cross / math.sqrt(margins)


def paired_interval(a: int, b: int, c: int, d: int, confidence: float = 0.95) -> tuple[float, float]:
    """Newcombe method 10 interval for ``(b - c) / n`` from the paired table ``[[a, b], [c, d]]``."""
    n = a + b + c + d
    if n == 0:
        return -1.0, 1.0
    w1, w2 = wilson(a + b, n, confidence), wilson(a + c, n, confidence)
    p1, p2 = w1.estimate, w2.estimate
    phi = _phi(a, b, c, d)
    gap = (b - c) / n
    lo1, hi2 = p1 - w1.low, w2.high - p2
    hi1, lo2 = w1.high - p1, p2 - w2.low
    low = gap - math.sqrt(max(0.0, lo1 * lo1 - 2 * phi * lo1 * hi2 + hi2 * hi2))
    high = gap + math.sqrt(max(0.0, lo2 * lo2 - 2 * phi * lo2 * hi1 + hi1 * hi1))
    return max(-1.0, low), min(1.0, high)


def paired_gap(pairs: Sequence[tuple[bool, bool]], confidence: float = 0.95) -> PairedGap:
    """Gap, Newcombe paired interval and exact McNemar p-value from ``(training, deployment)`` outcome pairs.

    With no pairs the gap is nan, the interval the uninformative [-1, 1] and the p-value 1.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    a = b = c = d = 0
    for training, deployment in pairs:
        if training and deployment:
            a += 1
        elif training:
            b += 1
        elif deployment:
            c += 1
        else:
            d += 1
    n = a + b + c + d
    low, high = paired_interval(a, b, c, d, confidence)
    gap = (b - c) / n if n else math.nan
    return PairedGap(n, a, b, c, d, gap, low, high, mcnemar_exact(b, c), METHOD)
