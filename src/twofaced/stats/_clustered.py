"""The compliance gap with several samples per request: a cluster-robust interval. Pure, no I/O.

Samples of one request are correlated (the model tends to answer a request the same way each time), so
they are not independent observations, and treating them as such overstates the precision. The gap
(training minus deployment compliance over all records) is the slope of the linear probability model
``complied ~ 1 + training``; its standard error here is the cluster-robust (sandwich, "CR1") standard
error with requests as clusters (Liang & Zeger 1986; Cameron & Miller 2015, "A practitioner's guide to
cluster-robust inference", J Hum Resour 50:317-372). For a difference of two means the sandwich reduces to

    V = G / (G - 1) * sum_g u_g**2,   u_g = sum_{i in g, training} e_i / n_t - sum_{i in g, deployment} e_i / n_d

with ``e_i`` the record's residual from its condition's rate and G the number of requests. This is
statsmodels' ``OLS(...).fit(cov_type="cluster")`` without its extra ``(N - 1) / (N - K)`` regression factor,
so that duplicating every record K times leaves the SE unchanged (tests check both). A request that
appears in both conditions contributes to both sums of its ``u_g``, so the within-request correlation
between conditions (a paired design) is accounted for too.

Interval and test use Student's t with G - 1 degrees of freedom (Cameron & Miller 2015, section VI), as
Stata and statsmodels (``use_t=True``) do. The design effect is the sandwich variance (without the G/(G-1)
factor) over the variance the same records would have if all were independent,
``p_t(1-p_t)/n_t + p_d(1-p_d)/n_d``: 1 with one record per request, K with K identical copies.

Assumptions: requests are independent of each other; inference is asymptotic in the number of requests
(reliable from about 30 to 50 requests; fewer gives intervals that are too narrow even with the t
correction). With fewer than 2 requests the SE is undefined (nan; interval [-1, 1], p = 1).

Degenerate data: when every request has the same compliance rate within each condition (typically: all
records of a condition agree, e.g. 100% vs 0%), the sandwich SE is 0 and a Wald interval would collapse to a
point. The data then look like perfectly correlated samples, so the fallback takes that reading (design
effect = records per request, i.e. each request counts once per condition) and reports Newcombe's hybrid
score interval (method 10, Newcombe 1998, Stat Med 17:873-890) for the request-level rates, with the
pooled two-proportion score test for p. ``se`` stays 0 and ``method`` says the fallback was used.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist


@dataclass(frozen=True, slots=True)
class ClusteredGap:
    n_clusters: int
    n_records: int
    gap: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    design_effect: float
    method: str


METHOD = "clustered by request: cluster-robust (CR1 sandwich) SE, t with G-1 df"
FALLBACK = " (sandwich SE 0: request-level Newcombe interval and score test)"
CONDITIONS = ("training", "deployment")


def _wilson(p: float, n: int, z: float) -> tuple[float, float]:
    """Wilson score bounds for an observed rate ``p`` out of ``n`` (``p * n`` need not be an integer)."""
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (0.0 if p == 0 else max(0.0, centre - half)), (1.0 if p == 1 else min(1.0, centre + half))


def _request_level(p_t: float, g_t: int, p_d: float, g_d: int, confidence: float) -> tuple[float, float, float]:
    """Newcombe interval and score-test p for rates over ``g_t`` and ``g_d`` requests (the degenerate case)."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    (l_t, u_t), (l_d, u_d) = _wilson(p_t, g_t, z), _wilson(p_d, g_d, z)
    gap = p_t - p_d
    low = gap - math.sqrt((p_t - l_t) ** 2 + (u_d - p_d) ** 2)
    high = gap + math.sqrt((u_t - p_t) ** 2 + (p_d - l_d) ** 2)
    pooled = (p_t * g_t + p_d * g_d) / (g_t + g_d)
    null_var = pooled * (1 - pooled) * (1 / g_t + 1 / g_d)
    p_value = 1.0 if null_var == 0 else 2 * NormalDist().cdf(-abs(gap) / math.sqrt(null_var))
    return max(-1.0, low), min(1.0, high), min(1.0, p_value)


def clustered_gap(records: Sequence[tuple[str, str, bool]], confidence: float = 0.95) -> ClusteredGap:
    """Training minus deployment compliance from ``(request_id, condition, complied)`` records.

    The interval and p-value account for the correlation of records that share a request id.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    counts = {c: [0, 0] for c in CONDITIONS}  # condition -> [n, complied]
    for _, condition, complied in records:
        if condition not in counts:
            raise ValueError(f"condition must be 'training' or 'deployment', got {condition!r}")
        counts[condition][0] += 1
        counts[condition][1] += bool(complied)
    (n_t, x_t), (n_d, x_d) = counts["training"], counts["deployment"]
    if n_t == 0 or n_d == 0:
        raise ValueError(f"need records in both conditions, got {n_t} training and {n_d} deployment")
    p_t, p_d = x_t / n_t, x_d / n_d
    gap = p_t - p_d

    scores: dict[str, float] = {}
    for cluster, condition, complied in records:
        if condition == "training":
            u = (float(bool(complied)) - p_t) / n_t
        else:
            u = -(float(bool(complied)) - p_d) / n_d
        scores[cluster] = scores.get(cluster, 0.0) + u
    g = len(scores)
    sandwich = math.fsum(u * u for u in scores.values())
    independent = p_t * (1 - p_t) / n_t + p_d * (1 - p_d) / n_d
    n = n_t + n_d
    if g < 2:
        return ClusteredGap(g, n, gap, math.nan, -1.0, 1.0, 1.0, math.nan, METHOD)
    deff = sandwich / independent if independent > 0 else 1.0
    se = math.sqrt(sandwich * g / (g - 1))
    if se == 0.0:
        g_t = len({cluster for cluster, condition, _ in records if condition == "training"})
        g_d = len({cluster for cluster, condition, _ in records if condition == "deployment"})
        low, high, p_value = _request_level(p_t, g_t, p_d, g_d, confidence)
        return ClusteredGap(g, n, gap, 0.0, low, high, p_value, n / (g_t + g_d), METHOD + FALLBACK)
    from scipy.stats import t

    q = float(t.ppf(0.5 + confidence / 2, g - 1))
    p_value = float(min(1.0, 2 * t.sf(abs(gap) / se, g - 1)))
    return ClusteredGap(g, n, gap, se, max(-1.0, gap - q * se), min(1.0, gap + q * se), p_value, deff, METHOD)


def design_adjusted_gap(records: Sequence[tuple[str, str, bool]], confidence: float = 0.95) -> ClusteredGap:
    """The gap with several samples per request, as reported in summaries: never narrower than the data allow.

    Interval: Newcombe's hybrid score interval on Kish effective sample sizes ``n / deff``, with ``deff`` the
    design effect of :func:`clustered_gap` (below 1 when pairing by request helps); when every record of a
    condition agrees (no within-condition variance), ``deff`` is the mean number of records per request and
    condition, i.e. each request counts once. Unlike the sandwich interval it keeps the score interval's good
    coverage at small n.
    p-value: :func:`clustered_gap`'s (cluster-robust t, or its request-level score test in that degenerate case).
    """
    from ._rates import newcombe_difference

    cl = clustered_gap(records, confidence)
    deff, (x_t, n_t, x_d, n_d) = effective_design(records, cl)
    ci = newcombe_difference(x_t / deff, n_t / deff, x_d / deff, n_d / deff, confidence)  # type: ignore[arg-type]
    method = "newcombe-hybrid-score on effective n (request-clustered design effect); " + cl.method
    return ClusteredGap(cl.n_clusters, cl.n_records, cl.gap, cl.se, ci.low, ci.high, cl.p_value, deff, method)


def effective_design(records: Sequence[tuple[str, str, bool]], cl: ClusteredGap | None = None
                     ) -> tuple[float, tuple[int, int, int, int]]:
    """``(deff, (x_training, n_training, x_deployment, n_deployment))``: the design effect the summaries use.

    The cluster-robust design effect of :func:`clustered_gap` (below 1 when pairing by request helps); when
    no record varies within its condition (or that effect is undefined), the mean number of records per request
    and condition, so each request counts once. ``cl`` is ``clustered_gap(records)`` when the caller has it.
    """
    if cl is None:
        cl = clustered_gap(records)
    counts = {c: [0, 0] for c in CONDITIONS}
    cells: set[tuple[str, str]] = set()
    for cluster, condition, complied in records:
        counts[condition][0] += 1
        counts[condition][1] += bool(complied)
        cells.add((cluster, condition))
    (n_t, x_t), (n_d, x_d) = counts["training"], counts["deployment"]
    p_t, p_d = x_t / n_t, x_d / n_d
    if p_t * (1 - p_t) + p_d * (1 - p_d) == 0 or not cl.design_effect > 0:  # no variance, or nan
        deff = (n_t + n_d) / len(cells)
    else:
        deff = cl.design_effect
    return deff, (x_t, n_t, x_d, n_d)
