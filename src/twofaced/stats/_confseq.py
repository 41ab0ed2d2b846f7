"""An always-valid confidence sequence for a Bernoulli rate: the beta-binomial mixture of Robbins. Pure, no I/O.

The live rate of a monitored signal is looked at after every exchange, so a fixed-n interval (Wilson) would be
wrong a growing share of the time. A confidence sequence holds uniformly over n:
``P(p in CS_n for every n >= 1) >= 1 - alpha``.

Construction (Robbins 1970, "Statistical methods related to the law of the iterated logarithm"; Howard, Ramdas,
McAuliffe & Sekhon 2021, "Time-uniform, nonparametric, nonasymptotic confidence sequences", Ann. Statist.
49(2):1055-1080, the beta-binomial boundary): for each candidate rate ``p`` the mixture likelihood ratio

    M_n(p) = B(a + S_n, b + n - S_n) / B(a, b) / (p^S_n (1 - p)^(n - S_n))

(``S_n`` successes in ``n`` trials, a Beta(a, b) mixing distribution) is a nonnegative martingale with
``M_0 = 1`` when the true rate is ``p``, so by Ville's inequality it ever reaches ``1 / alpha`` with probability
at most ``alpha``. The sequence is ``CS_n = {p : M_n(p) < 1 / alpha}``: an interval, since ``-log`` of the
likelihood is convex in ``p``, and it always holds ``S_n / n`` (the mixture likelihood never exceeds the
maximum likelihood). The endpoints are found by bisection to 1e-12. The guarantee is exact, not asymptotic,
and holds for any Beta(a, b); the mixing distribution only moves where the sequence is tightest. The default,
Jeffreys' Beta(1/2, 1/2), is neutral; the width shrinks like sqrt(log n / n).

The intersection of the intervals up to n is also a confidence sequence; a caller that keeps the running
intersection gets intervals that never widen.
"""

from __future__ import annotations

import math
from typing import Any

from ._rates import Interval

_ITERATIONS = 200
_TOLERANCE = 1e-12


def _check(successes: int, n: int, alpha: float, a: float, b: float) -> None:
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got {successes}/{n}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if not (a > 0 and b > 0):
        raise ValueError(f"the Beta(a, b) mixture needs a > 0 and b > 0, got a={a}, b={b}")


def mixture_log_martingale(successes: Any, n: Any, p: Any, a: float = 0.5, b: float = 0.5) -> Any:
    """``log M_n(p)`` of the beta-binomial mixture; floats or numpy arrays (broadcast). ``p`` must be in (0, 1).

    ``p`` lies in the confidence sequence at ``n`` exactly when this is below ``log(1 / alpha)``; a simulation
    checks time-uniform coverage with it in one vectorised pass (see tests/test_sequential.py).
    """
    import numpy as np  # imported here, so importing the package stays cheap
    from scipy.special import betaln

    s = np.asarray(successes, dtype=float)
    m = np.asarray(n, dtype=float)
    q = np.asarray(p, dtype=float)
    out = betaln(a + s, b + m - s) - betaln(a, b) - s * np.log(q) - (m - s) * np.log1p(-q)
    return float(out) if np.ndim(out) == 0 else out


def _log_m(successes: int, n: int, p: float, a: float, b: float, log_beta_ab: float) -> float:
    log_beta = math.lgamma(a + successes) + math.lgamma(b + n - successes) - math.lgamma(a + b + n)
    return log_beta - log_beta_ab - successes * math.log(p) - (n - successes) * math.log1p(-p)


def confidence_sequence(successes: int, n: int, alpha: float = 0.05, *, a: float = 0.5, b: float = 0.5) -> Interval:
    """The beta-binomial mixture confidence sequence for a Bernoulli rate after ``successes`` of ``n`` trials.

    Valid uniformly over n: the chance that the true rate is ever outside, at any n, is at most ``alpha``.
    ``n == 0`` gives [0, 1] around nan. The monitor calls this after each scored exchange.

    >>> ci = confidence_sequence(100, 1000)
    >>> round(ci.low, 3), round(ci.high, 3)
    (0.069, 0.138)
    """
    _check(successes, n, alpha, a, b)
    if n == 0:
        return Interval(math.nan, 0.0, 1.0)
    threshold = math.log(1 / alpha)
    log_beta_ab = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    estimate = successes / n

    def edge(outside: float) -> float:
        inside = estimate  # always in the set; bisect towards the outside end
        for _ in range(_ITERATIONS):
            if abs(outside - inside) < _TOLERANCE:
                break
            mid = (inside + outside) / 2
            if _log_m(successes, n, mid, a, b, log_beta_ab) < threshold:
                inside = mid
            else:
                outside = mid
        return outside  # the outer end: the interval errs wide by at most the tolerance

    # At S = 0 the set reaches p = 0 (M_n(0+) = B(a, b + n) / B(a, b) < 1); likewise p = 1 at S = n.
    low = 0.0 if successes == 0 else edge(0.0)
    high = 1.0 if successes == n else edge(1.0)
    return Interval(estimate, low, high)
