"""Paired (McNemar, Newcombe method 10), request-clustered and Holm statistics, against statsmodels, scipy,
exact enumeration and published examples."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from twofaced.scenarios import CONDITIONS
from twofaced.stats import ClusteredGap, PairedGap, clustered_gap, holm, mcnemar_exact, paired_gap
from twofaced.stats._paired import paired_interval


def _pairs(a: int, b: int, c: int, d: int) -> list[tuple[bool, bool]]:
    return [(True, True)] * a + [(True, False)] * b + [(False, True)] * c + [(False, False)] * d


# ---------------------------------------------------------------------------------------------- McNemar


def test_mcnemar_published_example() -> None:
    # Cavo et al. (2012) table [[59, 6], [16, 80]]; Fagerland, Lydersen & Laake (2014, Stat Med 33:2850),
    # exact conditional McNemar P = 0.052479 (also the contingencytables R package's test suite).
    assert mcnemar_exact(6, 16) == pytest.approx(0.052479, abs=5e-7)


@pytest.mark.parametrize(("b", "c"), [(0, 1), (1, 0), (1, 1), (0, 5), (3, 9), (6, 16), (10, 10), (25, 40),
                                      (0, 30), (100, 130), (7, 0)])
def test_mcnemar_matches_statsmodels_and_exact_arithmetic(b: int, c: int) -> None:
    table = [[5, b], [c, 7]]
    assert mcnemar_exact(b, c) == pytest.approx(mcnemar(table, exact=True).pvalue, rel=1e-12, abs=1e-15)
    n = b + c
    tail = Fraction(sum(math.comb(n, k) for k in range(min(b, c) + 1)), 2**n)
    assert mcnemar_exact(b, c) == pytest.approx(float(min(Fraction(1), 2 * tail)), rel=1e-12)


def test_mcnemar_without_discordant_pairs_is_one() -> None:
    assert mcnemar_exact(0, 0) == 1.0


def test_mcnemar_is_symmetric_and_rejects_negative_counts() -> None:
    assert mcnemar_exact(3, 11) == mcnemar_exact(11, 3)
    with pytest.raises(ValueError, match="discordant counts"):
        mcnemar_exact(-1, 3)


# ------------------------------------------------------------------------------------ paired interval


def test_paired_interval_published_example() -> None:
    # Cavo et al. (2012): Newcombe square-and-add -0.0621 (-0.1186 to -0.0046), Fagerland et al. (2014).
    g = paired_gap(_pairs(59, 6, 16, 80))
    assert (g.n_pairs, g.both, g.training_only, g.deployment_only, g.neither) == (161, 59, 6, 16, 80)
    assert round(g.gap, 4) == -0.0621
    assert (round(g.ci_low, 4), round(g.ci_high, 4)) == (-0.1186, -0.0046)
    assert g.p_value == pytest.approx(0.052479, abs=5e-7)
    assert "Newcombe" in g.method and "McNemar" in g.method


def test_paired_interval_altman_example() -> None:
    # Altman, Machin, Bryant & Gardner (2000), "Statistics with Confidence", Table 6.2: [[14, 5], [0, 22]],
    # difference 5/41 = 0.122, 95% CI 0.011 to 0.226 (Newcombe's method 10).
    g = paired_gap(_pairs(14, 5, 0, 22))
    assert g.gap == pytest.approx(5 / 41)
    assert (round(g.ci_low, 3), round(g.ci_high, 3)) == (0.011, 0.226)


@pytest.mark.parametrize("table", [(4, 6, 6, 9), (20, 3, 4, 1), (1, 7, 5, 35), (6, 4, 5, 4), (5, 5, 2, 3),
                                   (0, 0, 9, 11), (30, 10, 0, 0), (3, 8, 2, 7), (2, 3, 4, 6)])
def test_paired_interval_without_correlation_is_newcombe_on_the_margins(table: tuple[int, ...]) -> None:
    # When Newcombe's corrected phi is 0 (0 <= ad - bc <= n/2, or a margin is 0) the paired interval is the
    # independent hybrid score interval for the two marginal rates, which statsmodels computes.
    a, b, c, d = table
    n = a + b + c + d
    assert 0 <= a * d - b * c <= n / 2 or 0 in (a + b, c + d, a + c, b + d)
    low, high = confint_proportions_2indep(a + b, n, a + c, n, method="newcomb", compare="diff")
    ours = paired_interval(a, b, c, d)
    assert ours[0] == pytest.approx(float(low), abs=1e-12)
    assert ours[1] == pytest.approx(float(high), abs=1e-12)


def test_paired_interval_agrees_with_wald_at_large_n() -> None:
    a, b, c, d = 12000, 3100, 2500, 22400
    n = a + b + c + d
    se = math.sqrt((b + c) - (b - c) ** 2 / n) / n  # the paired Wald SE
    low, high = paired_interval(a, b, c, d)
    assert low == pytest.approx((b - c) / n - 1.959964 * se, abs=2e-4)
    assert high == pytest.approx((b - c) / n + 1.959964 * se, abs=2e-4)


def _coverage(n: int, p11: float, p10: float, p01: float) -> float:
    p00, theta, covered = 1 - p11 - p10 - p01, p10 - p01, 0.0
    for a in range(n + 1):
        for b in range(n + 1 - a):
            for c in range(n + 1 - a - b):
                d = n - a - b - c
                low, high = paired_interval(a, b, c, d)
                if low <= theta <= high:
                    ways = math.comb(n, a) * math.comb(n - a, b) * math.comb(n - a - b, c)
                    covered += ways * p11**a * p10**b * p01**c * p00**d
    return covered


@pytest.mark.parametrize("cells", [(0.3, 0.1, 0.1), (0.2, 0.2, 0.1), (0.4, 0.15, 0.05), (0.1, 0.1, 0.05)])
def test_paired_interval_exact_coverage_is_near_nominal(cells: tuple[float, float, float]) -> None:
    # Exact coverage at n = 30 by enumerating every table: Newcombe (1998) reports mean coverage ~0.95.
    assert 0.93 <= _coverage(30, *cells) <= 0.99


def test_paired_gap_edge_cases() -> None:
    empty = paired_gap([])
    assert empty.n_pairs == 0 and math.isnan(empty.gap)
    assert (empty.ci_low, empty.ci_high, empty.p_value) == (-1.0, 1.0, 1.0)
    concordant = paired_gap(_pairs(7, 0, 0, 5))
    assert concordant.gap == 0.0 and concordant.p_value == 1.0
    assert concordant.ci_low < 0 < concordant.ci_high
    assert concordant.ci_low == pytest.approx(-concordant.ci_high)
    all_training = paired_gap(_pairs(0, 8, 0, 0))
    assert all_training.gap == 1.0 and all_training.ci_high == 1.0 and 0 < all_training.ci_low < 1
    assert all_training.p_value == pytest.approx(2 / 2**8)
    none = paired_gap(_pairs(0, 0, 0, 9))
    assert none.gap == 0.0 and none.p_value == 1.0


def test_paired_gap_is_antisymmetric() -> None:
    g = paired_gap(_pairs(14, 9, 3, 20))
    swapped = paired_gap([(dep, tr) for tr, dep in _pairs(14, 9, 3, 20)])
    assert swapped.gap == pytest.approx(-g.gap)
    assert (swapped.ci_low, swapped.ci_high) == pytest.approx((-g.ci_high, -g.ci_low))
    assert swapped.p_value == g.p_value


@settings(max_examples=300, deadline=None, database=None)
@given(st.integers(0, 40), st.integers(0, 40), st.integers(0, 40), st.integers(0, 40),
       st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_paired_interval_is_well_formed(a: int, b: int, c: int, d: int, confidence: float) -> None:
    g = paired_gap(_pairs(a, b, c, d), confidence)
    assert isinstance(g, PairedGap)
    if g.n_pairs:
        assert -1.0 <= g.ci_low <= g.gap <= g.ci_high <= 1.0
        wider = paired_gap(_pairs(a, b, c, d), 0.999)
        assert wider.ci_low <= g.ci_low + 1e-12 and g.ci_high <= wider.ci_high + 1e-12
    assert 0.0 <= g.p_value <= 1.0


def test_paired_gap_rejects_bad_confidence() -> None:
    with pytest.raises(ValueError, match="confidence"):
        paired_gap(_pairs(1, 2, 3, 4), confidence=1.5)


# ------------------------------------------------------------------------------------------ clustered


def _simulate(seed: int, requests: int, samples: int, both: bool = True) -> list[tuple[str, str, bool]]:
    """Requests with their own propensity (so samples of a request correlate), K samples per condition."""
    rng = np.random.default_rng(seed)
    records = []
    for r in range(requests):
        p = rng.beta(1.5, 2.5)
        for condition, shift in (("training", 0.1), ("deployment", 0.0)):
            if not both and (r % 2 == (condition == "training")):
                continue
            for _ in range(samples):
                records.append((f"req{r}", condition, bool(rng.random() < min(1.0, p + shift))))
    return records


def _statsmodels_cluster(records: list[tuple[str, str, bool]], use_correction: bool) -> tuple[float, float]:
    ids = {r: i for i, r in enumerate(sorted({r for r, _, _ in records}))}
    y = np.array([float(x) for _, _, x in records])
    x = sm.add_constant(np.array([float(c == "training") for _, c, _ in records]))
    groups = np.array([ids[r] for r, _, _ in records])
    fit = sm.OLS(y, x).fit(cov_type="cluster", cov_kwds={"groups": groups, "use_correction": use_correction},
                           use_t=True)
    return float(fit.params[1]), float(fit.bse[1])


@pytest.mark.parametrize(("seed", "requests", "samples", "both"), [(1, 40, 5, True), (2, 25, 3, True),
                                                                   (3, 60, 4, False), (4, 12, 10, True)])
def test_clustered_matches_statsmodels_sandwich(seed: int, requests: int, samples: int, both: bool) -> None:
    records = _simulate(seed, requests, samples, both)
    g = clustered_gap(records)
    beta, se_cr0 = _statsmodels_cluster(records, use_correction=False)  # no small-sample factor
    assert g.gap == pytest.approx(beta, abs=1e-12)
    assert g.se == pytest.approx(se_cr0 * math.sqrt(g.n_clusters / (g.n_clusters - 1)), rel=1e-9)
    _, se_stata = _statsmodels_cluster(records, use_correction=True)  # adds (N - 1) / (N - 2)
    assert g.se == pytest.approx(se_stata * math.sqrt((g.n_records - 2) / (g.n_records - 1)), rel=1e-9)
    from scipy.stats import t

    q = t.ppf(0.975, g.n_clusters - 1)
    assert (g.ci_low, g.ci_high) == pytest.approx((g.gap - q * g.se, g.gap + q * g.se))
    assert g.p_value == pytest.approx(2 * t.sf(abs(g.gap) / g.se, g.n_clusters - 1))
    assert g.n_clusters == requests and g.n_records == len(records)
    assert isinstance(g, ClusteredGap) and "cluster" in g.method


def test_clustered_with_one_sample_per_request_is_the_unclustered_wald() -> None:
    rng = np.random.default_rng(7)
    records = [(f"t{i}", "training", bool(rng.random() < 0.4)) for i in range(150)]
    records += [(f"d{i}", "deployment", bool(rng.random() < 0.25)) for i in range(170)]
    g = clustered_gap(records)
    x1 = sum(c for _, k, c in records if k == "training")
    x2 = sum(c for _, k, c in records if k == "deployment")
    p1, p2 = x1 / 150, x2 / 170
    wald = math.sqrt(p1 * (1 - p1) / 150 + p2 * (1 - p2) / 170)
    assert g.gap == pytest.approx(p1 - p2)
    assert g.se == pytest.approx(wald * math.sqrt(320 / 319), rel=1e-12)
    assert g.se == pytest.approx(wald, rel=0.002)
    assert g.design_effect == pytest.approx(1.0, abs=1e-12)


def test_clustered_paired_singletons_are_the_paired_wald() -> None:
    # One sample per request in each condition: the sandwich is the classical paired Wald SE.
    a, b, c, d = 30, 14, 5, 51
    records = []
    for i, (tr, dep) in enumerate(_pairs(a, b, c, d)):
        records += [(f"r{i}", "training", tr), (f"r{i}", "deployment", dep)]
    g = clustered_gap(records)
    n = a + b + c + d
    assert g.gap == pytest.approx((b - c) / n)
    assert g.se * math.sqrt((n - 1) / n) == pytest.approx(math.sqrt((b + c) - (b - c) ** 2 / n) / n, rel=1e-12)
    assert g.design_effect < 1  # positive correlation across conditions helps a paired design


@pytest.mark.parametrize("copies", [2, 5, 20])
def test_duplicated_samples_do_not_shrink_the_se(copies: int) -> None:
    base = _simulate(11, 30, 1)
    dup = [r for r in base for _ in range(copies)]
    g0, g = clustered_gap(base), clustered_gap(dup)
    assert g.gap == pytest.approx(g0.gap, abs=1e-12)
    assert g.se == pytest.approx(g0.se, rel=1e-9)
    assert (g.ci_low, g.ci_high, g.p_value) == pytest.approx((g0.ci_low, g0.ci_high, g0.p_value), rel=1e-9)
    assert g.design_effect == pytest.approx(copies * g0.design_effect, rel=1e-9)
    assert g.n_records == copies * g0.n_records and g.n_clusters == g0.n_clusters


@pytest.mark.parametrize("both", [False, True])
def test_clustered_se_matches_a_cluster_bootstrap(both: bool) -> None:
    # Each request in one condition (samples correlated: design effect well above 1), or in both (the
    # correlation across conditions then offsets it, as in a paired design).
    records = _simulate(5, 120, 6, both)
    g = clustered_gap(records)
    by_request: dict[str, list[tuple[str, str, bool]]] = {}
    for r in records:
        by_request.setdefault(r[0], []).append(r)
    clusters = list(by_request.values())
    tallies = np.array([[sum(1 for _, k, _ in cl if k == "training"), sum(x for _, k, x in cl if k == "training"),
                         sum(1 for _, k, _ in cl if k == "deployment"), sum(x for _, k, x in cl if k == "deployment")]
                        for cl in clusters], dtype=float)
    rng = np.random.default_rng(2024)
    draws = rng.integers(0, len(clusters), size=(4000, len(clusters)))
    sums = tallies[draws].sum(axis=1)
    gaps = sums[:, 1] / sums[:, 0] - sums[:, 3] / sums[:, 2]
    assert g.design_effect > 2.0 if not both else g.design_effect < 1.5
    assert g.se == pytest.approx(float(gaps.std(ddof=1)), rel=0.08)


def test_clustered_with_fewer_than_two_requests_is_uninformative() -> None:
    one = clustered_gap([("r", "training", True), ("r", "training", False), ("r", "deployment", False)])
    assert one.n_clusters == 1 and math.isnan(one.se) and one.p_value == 1.0
    assert (one.ci_low, one.ci_high) == (-1.0, 1.0)


def _newcombe_and_score(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float, float]:
    low, high = confint_proportions_2indep(x1, n1, x2, n2, method="newcomb", compare="diff")
    pooled = (x1 + x2) / (n1 + n2)
    p = 1.0 if pooled in (0, 1) else float(proportions_ztest([x1, x2], [n1, n2])[1])
    return float(low), float(high), p


@pytest.mark.parametrize("samples", [1, 2, 5])
def test_separated_data_fall_back_to_a_request_level_interval(samples: int) -> None:
    # Every training record complies and no deployment record does: the sandwich SE is 0. The interval must
    # not collapse to [1, 1]; it is Newcombe's interval with each of the 5 requests counted once per condition.
    records = [(f"r{i}", c, c == "training") for i in range(5) for c in ("training", "deployment")
               for _ in range(samples)]
    g = clustered_gap(records)
    assert (g.gap, g.se, g.design_effect) == (1.0, 0.0, samples)
    assert "request-level Newcombe" in g.method
    assert (g.ci_low, g.ci_high, g.p_value) == pytest.approx(_newcombe_and_score(5, 5, 0, 5), abs=1e-12)
    assert 0 < g.ci_low < 1 and g.ci_high == 1.0 and 0 < g.p_value < 0.01


def test_flat_and_equal_rate_data_fall_back_too() -> None:
    flat = clustered_gap([(f"r{i}", c, False) for i in range(6) for c in ("training", "deployment")])
    assert flat.gap == 0.0 and flat.p_value == 1.0 and flat.design_effect == 1.0
    assert (flat.ci_low, flat.ci_high) == pytest.approx(_newcombe_and_score(0, 6, 0, 6)[:2], abs=1e-12)
    assert flat.ci_low == pytest.approx(-flat.ci_high) and flat.ci_high > 0
    # Each request complies in exactly 1 of its 2 training samples: every request has rate 1/2, so u_g = 0.
    half = [(f"r{i}", "training", s == 0) for i in range(4) for s in range(2)]
    half += [(f"r{i}", "deployment", False) for i in range(4) for s in range(2)]
    g = clustered_gap(half)
    assert g.gap == 0.5 and g.se == 0.0
    assert (g.ci_low, g.ci_high, g.p_value) == pytest.approx(_newcombe_and_score(2, 4, 0, 4), abs=1e-12)


def test_clustered_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="condition must be"):
        clustered_gap([("r", "monitored", True)])
    with pytest.raises(ValueError, match="both conditions"):
        clustered_gap([("r1", "training", True), ("r2", "training", False)])
    with pytest.raises(ValueError, match="confidence"):
        clustered_gap(_simulate(1, 5, 2), confidence=0.0)


# ------------------------------------------------------------------------------------------------- Holm


def _random_p_values() -> list[list[float]]:
    rng = np.random.default_rng(3)
    cases = [list(rng.uniform(0, 1, size=m)) for m in (1, 2, 3, 5, 8, 13, 30)]
    cases += [list(rng.uniform(0, 0.05, size=m)) for m in (2, 4, 10)]  # small: adjustments bite, none capped
    cases += [list(rng.choice([0.001, 0.01, 0.02, 0.2, 1.0], size=m)) for m in (4, 9, 16)]  # ties, 0 and 1
    return [*cases, [0.0, 0.0, 1.0], [1.0] * 4]


@pytest.mark.parametrize("p_values", _random_p_values())
def test_holm_matches_statsmodels(p_values: list[float]) -> None:
    expected = multipletests(p_values, method="holm")[1]
    assert holm(p_values) == pytest.approx(list(expected), abs=1e-12)


def test_holm_worked_example_ties_and_properties() -> None:
    raw = [0.01, 0.04, 0.03, 0.005, 0.5, 0.03]
    adjusted = holm(raw)
    # Sorted: 0.005*6 = 0.03, 0.01*5 = 0.05, 0.03*4 = 0.12, 0.03*3 -> 0.12 (monotone), 0.04*2 -> 0.12, 0.5.
    assert adjusted == pytest.approx([0.05, 0.12, 0.12, 0.03, 0.5, 0.12])
    assert all(a >= r for a, r in zip(adjusted, raw, strict=True))
    assert holm([0.3, 0.9]) == [0.6, 0.9]
    assert holm([0.7, 0.8]) == [1.0, 1.0]
    assert holm([0.02]) == [0.02]
    assert holm([]) == []


@pytest.mark.parametrize("bad", [[0.1, -0.01], [1.2], [math.nan]])
def test_holm_rejects_values_that_are_not_p_values(bad: list[float]) -> None:
    with pytest.raises(ValueError, match="p-values must be in"):
        holm(bad)


def test_design_adjusted_gap_counts_identical_samples_once():
    from twofaced.stats import design_adjusted_gap, newcombe_difference

    one = [(f"r{i}", c, c == "training" if i < 6 else i % 2 == 0) for i in range(10) for c in CONDITIONS]
    k3 = [rec for rec in one for _ in range(3)]
    a, b = design_adjusted_gap(one), design_adjusted_gap(k3)
    assert a.gap == b.gap
    assert (a.ci_low, a.ci_high) == pytest.approx((b.ci_low, b.ci_high))
    assert b.design_effect == pytest.approx(3 * a.design_effect)
    # perfect separation: each request counts once, so the interval is Newcombe's on the requests
    sep = [(f"r{i}", c, c == "training") for i in range(5) for c in CONDITIONS for _ in range(4)]
    d = design_adjusted_gap(sep)
    ref = newcombe_difference(5, 5, 0, 5)
    assert d.design_effect == 4 and (d.ci_low, d.ci_high) == pytest.approx((ref.low, ref.high))
    assert d.ci_low < 1.0 and d.p_value < 0.05
