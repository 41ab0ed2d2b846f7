"""Binomial rates and the difference of two rates. Pure functions, no I/O.

Wilson score intervals for one proportion (good coverage at small n and near 0 or 1, where the Wald interval
fails), and Newcombe's hybrid score interval (method 10, Newcombe 1998) for a difference of independent
proportions, built from the two Wilson intervals. Checked against statsmodels in tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist


@dataclass(frozen=True, slots=True)
class Interval:
    estimate: float
    low: float
    high: float


def _z(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(successes: float, n: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval for ``successes / n``; ``n == 0`` gives the uninformative [0, 1] around nan."""
    if n < 0 or not 0 <= successes <= max(n, 0):
        raise ValueError(f"need 0 <= successes <= n, got {successes}/{n}")
    if n == 0:
        return Interval(math.nan, 0.0, 1.0)
    z = _z(confidence)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # The bounds at x = 0 and x = n are exactly 0 and 1; the formula leaves rounding dust (2.8e-17, 0.9999...).
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return Interval(p, low, high)


def newcombe_difference(x1: int, n1: int, x2: int, n2: int, confidence: float = 0.95) -> Interval:
    """Interval for ``x1/n1 - x2/n2`` (independent samples), Newcombe's hybrid score method."""
    a, b = wilson(x1, n1, confidence), wilson(x2, n2, confidence)
    if n1 == 0 or n2 == 0:
        return Interval(math.nan, -1.0, 1.0)
    d = a.estimate - b.estimate
    low = d - math.sqrt((a.estimate - a.low) ** 2 + (b.high - b.estimate) ** 2)
    high = d + math.sqrt((a.high - a.estimate) ** 2 + (b.estimate - b.low) ** 2)
    return Interval(d, max(-1.0, low), min(1.0, high))


def mover_difference(a: Interval, b: Interval) -> Interval:
    """Interval for ``a - b`` from two independent estimates with (possibly asymmetric) intervals.

    MOVER (method of variance estimates recovery; Zou & Donner 2008): each side's width is recovered from the
    distances of the component estimates to their own bounds. With Wilson components this is exactly
    Newcombe's method 10; here it compares two gaps (e.g. model v1 vs v2, before vs after fine-tuning).
    """
    d = a.estimate - b.estimate
    low = d - math.sqrt((a.estimate - a.low) ** 2 + (b.high - b.estimate) ** 2)
    high = d + math.sqrt((a.high - a.estimate) ** 2 + (b.estimate - b.low) ** 2)
    return Interval(d, low, high)
