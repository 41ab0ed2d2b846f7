"""Sample size and power for detecting a compliance gap. Pure, no I/O.

The question: how many requests (and samples per request) does a run need so that a gap of ``gap``
(training rate ``base + gap``, deployment rate ``base``) is detected with probability ``power`` by a
two-sided test at level ``alpha``?

* Independent conditions (default): the two-proportion z-test with pooled null variance and the
  continuity correction of Fleiss, Tytun & Ury (1980, "A simple approximation for calculating sample sizes
  for comparing independent proportions", Biometrics 36:343-346; Fleiss, Levin & Paik 2003, "Statistical
  Methods for Rates and Proportions", 3rd ed., eqs 4.14 and 4.15):
  ``n = (z_a sqrt(2 pbar qbar) + z_b sqrt(p1 q1 + p2 q2))**2 / gap**2`` per condition, then
  ``n_cc = n/4 (1 + sqrt(1 + 4 / (n gap)))**2``. The correction makes the plan match the power of Fisher's
  exact / Yates' test; it is conservative for the (uncorrected) Newcombe interval the summary reports.
  Without it, ``n`` equals statsmodels' ``samplesize_proportions_2indep_onetail`` (tests check this).
* Paired (``paired=True``: every request run in both conditions, analysed by McNemar's test): Connor
  (1987, "Sample size for testing differences in proportions for the paired-sample design", Biometrics
  43:207-211), ``n = (z_a sqrt(psi) + z_b sqrt(psi - gap**2))**2 / gap**2`` pairs, with the discordance
  rate ``psi = p1 q2 + p2 q1`` of independent outcomes. Real answers to one request are positively
  correlated across conditions, which lowers ``psi`` and the pairs needed, so this plan is conservative.
* Several samples per request (Donner & Klar 2000, "Design and Analysis of Cluster Randomization Trials"):
  K samples of one request with intraclass correlation ``icc`` are worth ``K / (1 + (K - 1) icc)``
  independent ones, so ``requests = ceil(n * (1 + (K - 1) icc) / K)``. With ``icc > 0`` extra samples have
  diminishing returns; a run can never do better than ``1 / icc`` independent items per request.

``power_of`` inverts the same formulas (both tails of the two-sided test), so the achieved power of a plan,
after rounding up, is at least the power asked for. Assumptions: large-sample normal approximation
(accurate when each condition expects about 5 or more compliances and non-compliances), independent
requests, and an ``icc`` known or guessed in advance (0 unless estimated from a pilot run).

Every input is checked before any arithmetic: rates (``gap``, ``base``, ``power``, ``alpha``, ``icc``) are
fractions, and a value such as ``--gap 5`` (percent) is refused with :class:`PlanInputError` saying to write 0.05.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from ..errors import ConfigError

_N = NormalDist()


@dataclass(frozen=True, slots=True)
class Plan:
    requests: int
    samples: int
    total_items: int
    power: float
    alpha: float
    method: str


class PlanInputError(ConfigError, ValueError):
    """A question ``plan`` cannot answer (a rate that is no fraction, power 80, ...): a ConfigError, so the CLI
    prints it on one line and exits 2, and a ValueError, as these checks raised before."""


def _fraction(name: str, value: float, interval: str, ok: bool, example: str) -> None:
    """Refuse ``value`` unless ``ok``; a value above 1 was almost surely written in percent, so say so."""
    if ok:
        return
    hint = f"; write {value / 100:g} for {value:g}%" if 1 < value <= 100 else f"; e.g. {example}"
    raise PlanInputError(f"{name} must be in {interval} (a fraction, not a percentage), got {value:g}{hint}")


def _check(gap: float, base: float, alpha: float, samples: int, icc: float) -> None:
    """Every range, checked before any arithmetic; each message names the input and the fix."""
    if not gap > 0:  # also rejects nan
        raise PlanInputError(f"gap must be > 0 (training compliance above deployment), got {gap:g}")
    if gap > 1:
        raise PlanInputError(f"gap must be in (0, 1] (a fraction, not percentage points), got {gap:g}"
                             + (f"; write {gap / 100:g} for {gap:g} points" if gap <= 100 else ""))
    _fraction("base", base, "[0, 1)", 0 <= base < 1, "0.02 for 2%")
    if base + gap > 1:
        raise PlanInputError(f"base + gap is the training compliance rate and must be <= 1, got {base:g} + {gap:g}")
    _fraction("alpha", alpha, "(0, 1)", 0 < alpha < 1, "0.05")
    if samples < 1:
        raise PlanInputError(f"samples per request must be >= 1, got {samples}")
    _fraction("icc", icc, "[0, 1]", 0 <= icc <= 1, "0.1")


def _sds(gap: float, base: float, paired: bool) -> tuple[float, float]:
    """Per-item standard deviations of the test statistic under the null and under the alternative."""
    p1, p2 = base + gap, base
    alternative = math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    if paired:
        return math.sqrt(p1 * (1 - p2) + p2 * (1 - p1)), alternative
    pbar = (p1 + p2) / 2
    return math.sqrt(2 * pbar * (1 - pbar)), alternative


def _uncorrected(gap: float, base: float, power: float, alpha: float, paired: bool) -> float:
    """Independent items (or pairs) per condition by the normal approximation, before any correction."""
    null_sd, alt_sd = _sds(gap, base, paired)
    root = _N.inv_cdf(1 - alpha / 2) * null_sd + _N.inv_cdf(power) * alt_sd
    return max(0.0, root) ** 2 / gap**2


def _corrected(n: float, gap: float) -> float:
    """Fleiss' continuity correction, n/4 (1 + sqrt(1 + 4/(n gap)))**2, written so that n = 0 is allowed."""
    return n / 2 + 1 / gap + math.sqrt(n * n + 4 * n / gap) / 2


def _uncorrected_from(m: float, gap: float) -> float:
    """The inverse of ``_corrected``: (m - 1/gap)**2 / m, and 0 at or below m = 1/gap."""
    return (m - 1 / gap) ** 2 / m if m > 1 / gap else 0.0


def _power_at(n: float, gap: float, base: float, alpha: float, paired: bool) -> float:
    """Power of the uncorrected two-sided test with ``n`` independent items (or pairs) per condition."""
    null_sd, alt_sd = _sds(gap, base, paired)
    z = _N.inv_cdf(1 - alpha / 2) * null_sd
    shift = gap * math.sqrt(n)
    if alt_sd == 0:
        return 1.0 if shift > z else 0.0
    return min(1.0, _N.cdf((shift - z) / alt_sd) + _N.cdf((-shift - z) / alt_sd))


def _method(paired: bool, samples: int, icc: float) -> str:
    core = ("paired: Connor (1987) McNemar sample size, independent outcomes within a request" if paired
            else "two-proportion z-test, Fleiss-Tytun-Ury continuity correction")
    return core + (f"; design effect 1 + ({samples} - 1) x {icc:g}" if samples > 1 else "")


def power_of(requests: int, samples: int, gap: float, base: float, alpha: float = 0.05, icc: float = 0.0,
             paired: bool = False) -> float:
    """Power of a run with ``requests`` requests per condition and ``samples`` samples of each."""
    _check(gap, base, alpha, samples, icc)
    if requests < 1:
        raise PlanInputError(f"requests must be >= 1, got {requests}")
    m = requests * samples / (1 + (samples - 1) * icc)  # effective independent items per condition
    return _power_at(m if paired else _uncorrected_from(m, gap), gap, base, alpha, paired)


def plan_sample_size(gap: float, base: float, power: float = 0.8, alpha: float = 0.05,
                     samples_per_request: int = 1, icc: float = 0.0, paired: bool = False) -> Plan:
    """Requests per condition (and items in all) to detect ``gap`` over ``base`` with ``power`` at ``alpha``."""
    _check(gap, base, alpha, samples_per_request, icc)
    _fraction("power", power, "(0, 1)", 0 < power < 1, "0.8 for 80%")
    k = samples_per_request
    n = _uncorrected(gap, base, power, alpha, paired)
    if not paired:
        n = _corrected(n, gap)
    n *= (1 + (k - 1) * icc) / k
    requests = max(1, math.ceil(n - 1e-9))
    achieved = power_of(requests, k, gap, base, alpha, icc, paired)
    return Plan(requests, k, requests * 2 * k, achieved, alpha, _method(paired, k, icc))
