"""Gaps whose interval and test are one construction, so they cannot disagree. Pure functions, no I/O.

The invariant every :class:`GapTest` keeps: ``ci_low > 0 or ci_high < 0`` exactly when
``p_value < 1 - confidence``, at any n, including n = 1. Two intervals and two tests built apart (a Newcombe
interval beside an exact McNemar p, say) disagree at small n: ``+100 pp [+7, +100]`` beside ``p = 0.5`` at two
pairs. Here each interval is the set of gaps its own test does not reject, so the test at a gap of 0 and the
interval's position relative to 0 are one fact, and the code derives the interval's side of 0 from that p-value
itself (never from a second floating-point comparison), so rounding cannot split them either.

* **Paired** (one sample per request, every request in both conditions): Tango's score interval (Tango 1998,
  Stat Med 17:891-908) inverts the score test of ``p_training - p_deployment = d``; at ``d = 0`` that test is
  the asymptotic McNemar test, ``z = (b - c) / sqrt(b + c)``. Fagerland, Lydersen & Laake find both perform well: the
  asymptotic McNemar test, whose actual size seldom exceeds the nominal level even at small n, over the exact
  conditional one, which is very conservative (BMC Med Res Methodol 2013, 13:91), and Tango's interval
  (Stat Med 2014, 33:2850-2875). The exact McNemar p stays available (:func:`mcnemar_exact`) as a
  second, labelled figure.
* **Independent samples**: the Miettinen-Nurminen score interval (Stat Med 1985, 4:213-226) inverts its score
  test, which at ``d = 0`` is Pearson's chi-square times ``(N - 1) / N`` (the "N - 1" chi-square Campbell
  recommends for small 2x2 tables, Stat Med 2007, 26:3661-3675). Newcombe's hybrid interval, used before, has
  no test of its own and excludes 0 at 2/2 vs 0/2, where this test gives p = 0.083.
* **Several samples per request** (request-clustered): the same Miettinen-Nurminen construction on Kish
  effective sample sizes ``n / deff``, with the design effect of :func:`design_adjusted_gap` (fixed once, so
  the interval at every level and its test use the same counts).
* **A difference of two gaps** (two independent runs): MOVER (Zou & Donner 2008) from the two gaps' intervals;
  it has no closed-form test, so its p-value is defined by the interval: the smallest alpha at which the
  (1 - alpha) interval excludes 0, found by bisection. Both component families are nested in the level, so the
  MOVER bounds move monotonically and the smallest such alpha is well defined; the bisection is seeded at the
  headline level, so agreement there is exact.

Bounds: a gap's interval stays within [-1, 1], a difference within [-2, 2] (clipping moves a bound only on its
own side of 0, so it never changes agreement). The score statistics decrease monotonically in ``d``; each bound
is found by bisection to 1e-10 and the value returned is the last one inside the interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from statistics import NormalDist

METHOD_PAIRED = "paired score: Tango interval inverting the asymptotic McNemar test"
METHOD_INDEPENDENT = "independent score: Miettinen-Nurminen interval inverting its score test"
METHOD_CLUSTERED = "clustered score: Miettinen-Nurminen on effective n (request design effect)"
METHOD_DIFFERENCE = "difference of gaps: MOVER of the two gaps' intervals; p inverts the interval"

_TOL = 1e-10
_MIN_LOG_ALPHA = -300.0  # p-values below 1e-300 are reported as 0


@dataclass(frozen=True, slots=True)
class GapTest:
    """A gap (or a difference of gaps), its interval at ``confidence`` and the p-value of the same construction.

    ``excludes_zero`` (``ci_low > 0 or ci_high < 0``) holds exactly when ``p_value < 1 - confidence``.
    ``design`` is ``paired``, ``independent``, ``clustered`` or ``difference``; ``counts`` are the sufficient
    statistics (``(both, training_only, deployment_only, neither)`` or ``(x_training, n_training,
    x_deployment, n_deployment)``, effective for ``clustered``); :meth:`at` rebuilds it at another level.
    """

    estimate: float
    ci_low: float
    ci_high: float
    p_value: float
    confidence: float
    method: str
    design: str
    counts: tuple[float, ...]
    design_effect: float = 1.0
    parts: tuple[GapTest, ...] = ()

    @property
    def excludes_zero(self) -> bool:
        return self.ci_low > 0 or self.ci_high < 0

    def at(self, confidence: float) -> GapTest:
        """The same gap with its interval at ``confidence`` (the p-value does not depend on the level)."""
        return self._at(*_check_confidence(confidence))

    def _at(self, z: float, alpha: float) -> GapTest:
        if self.design == "paired":
            a, b, c, d = (int(x) for x in self.counts)
            return _paired(a, b, c, d, z, alpha)
        if self.design == "difference":
            return _difference(self.parts[0], self.parts[1], z, alpha)
        x1, n1, x2, n2 = self.counts
        return replace(_independent(x1, n1, x2, n2, z, alpha), method=self.method, design=self.design,
                       design_effect=self.design_effect)


def _check_confidence(confidence: float) -> tuple[float, float]:
    """``(z, alpha)`` for a two-sided level; alpha is rounded so that 0.95 means alpha = 0.05 exactly."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return _z(round(1.0 - confidence, 12))


def _z(alpha: float) -> tuple[float, float]:
    """``(z, alpha)``: the two-sided normal quantile, accurate down to alpha = 1e-300."""
    return -NormalDist().inv_cdf(alpha / 2), alpha


def _p_two_sided(stat: float) -> float:
    return math.erfc(abs(stat) / math.sqrt(2.0))


def _ratio(num: float, var: float) -> float:
    """``num / sqrt(var)`` with the limits a score statistic takes where its null variance vanishes."""
    if var > 1e-300:
        return num / math.sqrt(var)
    if abs(num) < 1e-12:
        return 0.0
    return math.copysign(math.inf, num)


def _bisect(excluded: Callable[[float], bool], inside: float, outside: float) -> float:
    """The boundary between a point ``inside`` the interval and one ``outside`` it; returns an inside point."""
    while abs(inside - outside) > _TOL:
        mid = (inside + outside) / 2
        if excluded(mid):
            outside = mid
        else:
            inside = mid
    return inside


def _invert(stat: Callable[[float], float], estimate: float, z: float, reject: bool,
            lo: float, hi: float) -> tuple[float, float]:
    """``{d in [lo, hi]: |stat(d)| <= z}`` for a statistic decreasing in ``d`` with ``stat(estimate) = 0``.

    ``reject`` is the test's verdict at ``d = 0`` (``p < alpha``); the bounds are placed on its side of 0
    exactly, by starting each search from 0 when 0 is known to be inside or outside.
    """
    def below(d: float) -> bool:
        return stat(d) > z

    def above(d: float) -> bool:
        return stat(d) < -z

    if reject and estimate > 0:
        low = _bisect(below, estimate, 0.0)
    else:
        start = 0.0 if estimate > 0 else estimate  # known inside: 0 (not rejected) or the estimate
        low = lo if not below(lo) else _bisect(below, start, lo)
    if reject and estimate < 0:
        high = _bisect(above, estimate, 0.0)
    else:
        start = 0.0 if estimate < 0 else estimate
        high = hi if not above(hi) else _bisect(above, start, hi)
    return low, high


# ------------------------------------------------------------------------------------------------ paired


def _tango_stat(b: int, c: int, n: int, d: float) -> float:
    """Tango's score statistic for ``(b - c) / n = d``, with the restricted MLE of the ``c`` cell's share."""
    a_ = 2.0 * n
    b_ = -b - c + (2.0 * n - b + c) * d
    c_ = -c * d * (1.0 - d)
    q21 = (math.sqrt(max(0.0, b_ * b_ - 4.0 * a_ * c_)) - b_) / (2.0 * a_)
    return _ratio(b - c - n * d, n * (2.0 * q21 + d * (1.0 - d)))


def paired_score_gap(both: int, training_only: int, deployment_only: int, neither: int,
                     confidence: float = 0.95) -> GapTest:
    """Training minus deployment compliance on paired data: Tango's interval and the McNemar score test.

    The counts are the paired table: complied in both conditions, in training only (b), in deployment only (c),
    in neither. ``p = erfc(|b - c| / sqrt(2 (b + c)))``; no discordant pairs give p = 1. With no pairs the
    estimate is nan, the interval [-1, 1] and p = 1.

    >>> g = paired_score_gap(0, 2, 0, 0)   # two pairs, both complied in training only
    >>> round(g.p_value, 3), g.excludes_zero
    (0.157, False)
    """
    if min(both, training_only, deployment_only, neither) < 0:
        raise ValueError(f"paired counts must be >= 0, got {(both, training_only, deployment_only, neither)}")
    return _paired(both, training_only, deployment_only, neither, *_check_confidence(confidence))


def _paired(a: int, b: int, c: int, d: int, z: float, alpha: float) -> GapTest:
    n = a + b + c + d
    counts = (float(a), float(b), float(c), float(d))
    if n == 0:
        return GapTest(math.nan, -1.0, 1.0, 1.0, 1.0 - alpha, METHOD_PAIRED, "paired", counts)
    estimate = (b - c) / n
    p = 1.0 if b + c == 0 else _p_two_sided((b - c) / math.sqrt(b + c))
    low, high = _invert(lambda x: _tango_stat(b, c, n, x), estimate, z, p < alpha, -1.0, 1.0)
    return GapTest(estimate, max(-1.0, low), min(1.0, high), p, 1.0 - alpha, METHOD_PAIRED, "paired", counts)


def paired_counts(pairs: Sequence[tuple[bool, bool]]) -> tuple[int, int, int, int]:
    """``(both, training_only, deployment_only, neither)`` from ``(training, deployment)`` outcome pairs."""
    cells = [0, 0, 0, 0]
    for training, deployment in pairs:
        cells[(0 if deployment else 1) if training else (2 if deployment else 3)] += 1
    return cells[0], cells[1], cells[2], cells[3]


# ------------------------------------------------------------------------------------------- independent


def _restricted(p1: float, n1: float, p2: float, n2: float, d: float) -> tuple[float, float]:
    """Maximum-likelihood rates under ``p1 - p2 = d`` (Farrington & Manning 1990, closed form of the cubic)."""
    if d == 0.0:  # the pooled rate, exactly (the cubic leaves rounding dust of 1e-9 at 0 and 1)
        pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
        return pooled, pooled
    theta = n2 / n1
    a = 1.0 + theta
    b = -(1.0 + theta + p1 + theta * p2 + d * (theta + 2.0))
    c = d * d + d * (2.0 * p1 + theta + 1.0) + p1 + theta * p2
    e = -p1 * d * (1.0 + d)
    v = b ** 3 / (27.0 * a ** 3) - b * c / (6.0 * a * a) + e / (2.0 * a)
    u2 = b * b / (9.0 * a * a) - c / (3.0 * a)
    u = math.copysign(math.sqrt(max(0.0, u2)), v)
    if u == 0.0:
        r1 = -b / (3.0 * a)
    else:
        w = (math.pi + math.acos(max(-1.0, min(1.0, v / u ** 3)))) / 3.0
        r1 = 2.0 * u * math.cos(w) - b / (3.0 * a)
    r1 = min(min(1.0, 1.0 + d), max(max(0.0, d), r1))
    return r1, r1 - d


def _mn_stat(p1: float, n1: float, p2: float, n2: float, d: float) -> float:
    """The Miettinen-Nurminen score statistic for ``p1 - p2 = d`` (variance with the N / (N - 1) factor)."""
    r1, r2 = _restricted(p1, n1, p2, n2, d)
    big_n = n1 + n2
    var = (r1 * (1.0 - r1) / n1 + r2 * (1.0 - r2) / n2) * big_n / (big_n - 1.0)
    return _ratio(p1 - p2 - d, var)


def independent_score_gap(x1: float, n1: float, x2: float, n2: float, confidence: float = 0.95) -> GapTest:
    """``x1/n1 - x2/n2`` for independent samples: the Miettinen-Nurminen interval and its score test.

    Counts may be fractional (effective counts of a clustered design). With an empty group the estimate is
    nan, with ``n1 + n2 <= 1`` the plain difference; both give the interval [-1, 1] and p = 1.

    >>> g = independent_score_gap(2, 2, 0, 2)   # 2/2 vs 0/2: p = 0.083, the interval holds 0
    >>> round(g.p_value, 3), g.excludes_zero
    (0.083, False)
    """
    if n1 < 0 or n2 < 0 or not 0 <= x1 <= n1 or not 0 <= x2 <= n2:
        raise ValueError(f"need 0 <= x <= n in both groups, got {x1}/{n1} and {x2}/{n2}")
    return _independent(x1, n1, x2, n2, *_check_confidence(confidence))


def _independent(x1: float, n1: float, x2: float, n2: float, z: float, alpha: float) -> GapTest:
    counts = (float(x1), float(n1), float(x2), float(n2))
    if n1 == 0 or n2 == 0:
        return GapTest(math.nan, -1.0, 1.0, 1.0, 1.0 - alpha, METHOD_INDEPENDENT, "independent", counts)
    p1, p2 = x1 / n1, x2 / n2
    estimate = p1 - p2
    if n1 + n2 <= 1.0:
        return GapTest(estimate, -1.0, 1.0, 1.0, 1.0 - alpha, METHOD_INDEPENDENT, "independent", counts)
    p = _p_two_sided(_mn_stat(p1, n1, p2, n2, 0.0))
    low, high = _invert(lambda d: _mn_stat(p1, n1, p2, n2, d), estimate, z, p < alpha, -1.0, 1.0)
    return GapTest(estimate, max(-1.0, low), min(1.0, high), p, 1.0 - alpha, METHOD_INDEPENDENT, "independent",
                   counts)


def clustered_score_gap(records: Sequence[tuple[str, str, bool]], confidence: float = 0.95) -> GapTest:
    """Training minus deployment compliance from ``(request_id, condition, complied)`` records with several
    samples per request: the Miettinen-Nurminen construction on effective counts ``x / deff``, ``n / deff``.

    ``deff`` is :func:`design_adjusted_gap`'s design effect (cluster-robust; each request counted once when no
    record varies within a condition); it is kept in ``design_effect`` and in the counts, so :meth:`GapTest.at`
    keeps it.
    """
    from ._clustered import effective_design

    z, alpha = _check_confidence(confidence)
    deff, (x_t, n_t, x_d, n_d) = effective_design(records)
    g = _independent(x_t / deff, n_t / deff, x_d / deff, n_d / deff, z, alpha)
    return replace(g, method=METHOD_CLUSTERED, design="clustered", design_effect=deff)


# ------------------------------------------------------------------------------------ difference of gaps


def _mover(a: GapTest, b: GapTest) -> tuple[float, float, float]:
    d = a.estimate - b.estimate
    low = d - math.sqrt((a.estimate - a.ci_low) ** 2 + (b.ci_high - b.estimate) ** 2)
    high = d + math.sqrt((a.ci_high - a.estimate) ** 2 + (b.estimate - b.ci_low) ** 2)
    return d, max(-2.0, low), min(2.0, high)


def difference_of_gaps(a: GapTest, b: GapTest, confidence: float = 0.95) -> GapTest:
    """``a - b`` for gaps of two independent runs: MOVER interval, p-value by inverting that interval.

    ``p`` is the smallest alpha at which the MOVER interval built from the two gaps' (1 - alpha) intervals
    excludes 0 (bisection on log alpha, seeded at ``1 - confidence``, so agreement at that level is exact);
    1 when the difference is 0 or either gap is undefined; 0 below 1e-300.

    >>> a, b = independent_score_gap(4, 4, 0, 4), independent_score_gap(1, 2, 1, 2)
    >>> g = difference_of_gaps(a, b)
    >>> g.excludes_zero == (g.p_value < 0.05)
    True
    """
    return _difference(a, b, *_check_confidence(confidence))


def _difference(a: GapTest, b: GapTest, z: float, alpha: float) -> GapTest:
    d, low, high = _mover(a._at(z, alpha), b._at(z, alpha))
    parts = (a, b)
    if math.isnan(d):
        return GapTest(math.nan, -2.0, 2.0, 1.0, 1.0 - alpha, METHOD_DIFFERENCE, "difference", (), parts=parts)
    if d == 0.0:
        return GapTest(d, low, high, 1.0, 1.0 - alpha, METHOD_DIFFERENCE, "difference", (), parts=parts)

    def excludes(log_alpha: float) -> bool:
        if log_alpha >= 0.0:
            return True  # alpha = 1: the zero-width interval at the estimate, which is not 0
        _, lo, hi = _mover(a._at(*_z(10.0 ** log_alpha)), b._at(*_z(10.0 ** log_alpha)))
        return lo > 0 or hi < 0

    log0 = math.log10(alpha)
    if low > 0 or high < 0:  # excluded at the headline level: p in (0, alpha)
        if excludes(_MIN_LOG_ALPHA):
            p = 0.0
        else:
            p = min(10.0 ** _bisect(lambda x: not excludes(x), log0, _MIN_LOG_ALPHA), math.nextafter(alpha, 0.0))
    else:  # not excluded: p in [alpha, 1]
        p = max(10.0 ** _bisect(lambda x: not excludes(x), 0.0, log0), alpha)
    return GapTest(d, low, high, min(1.0, p), 1.0 - alpha, METHOD_DIFFERENCE, "difference", (), parts=parts)


def format_p(p: float | None, alpha: float = 0.05, digits: int = 2) -> str:
    """``p`` with ``digits`` significant digits, never rounded across ``alpha`` (0.0496 is ``0.0496``, not
    ``0.05``, beside an interval that excludes 0); ``–`` for None, ``< 0.0001`` below that."""
    if p is None or math.isnan(p):
        return "–"
    if p < 0.0001:
        return "< 0.0001"
    for d in range(digits, 7):
        text = f"{p:.{d}g}"
        if (float(text) < alpha) == (p < alpha):
            return text
    return f"< {alpha:g}" if p < alpha else f"{p:.6g}"
