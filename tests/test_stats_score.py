"""Gaps whose interval and test agree (``stats/_score.py``): property tests over random tables from n = 0 up,
published examples, independent re-computations (brute-force likelihoods, statsmodels, scipy) and the issue's
small-n cases."""

from __future__ import annotations

import math
from statistics import NormalDist

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar
from scipy.stats import chi2_contingency
from statsmodels.stats import proportion
from statsmodels.stats.contingency_tables import mcnemar

from twofaced.stats import (
    GapTest,
    clustered_score_gap,
    design_adjusted_gap,
    difference_of_gaps,
    format_p,
    independent_score_gap,
    mcnemar_exact,
    paired_counts,
    paired_score_gap,
)
from twofaced.stats._score import _mn_stat, _restricted, _tango_stat

LEVELS = (0.8, 0.9, 0.95, 0.99)


def assert_agrees(g: GapTest, bound: float = 1.0) -> None:
    """The invariant: the interval excludes 0 exactly when the test rejects, at the interval's level; bounds hold."""
    alpha = round(1 - g.confidence, 12)
    assert (g.ci_low > 0 or g.ci_high < 0) == (g.p_value < alpha), g
    assert -bound <= g.ci_low <= g.ci_high <= bound, g
    assert 0.0 <= g.p_value <= 1.0, g
    if not math.isnan(g.estimate):
        assert g.ci_low <= g.estimate <= g.ci_high, g


counts = st.integers(min_value=0, max_value=25)


# ------------------------------------------------------------------------------------------- properties


@settings(max_examples=400, deadline=None)
@given(counts, counts, counts, counts, st.sampled_from(LEVELS))
def test_paired_interval_and_test_agree_at_every_n(a: int, b: int, c: int, d: int, level: float) -> None:
    g = paired_score_gap(a, b, c, d, level)
    assert_agrees(g)
    assert g.p_value == paired_score_gap(a, b, c, d).p_value  # the test does not depend on the level
    if a + b + c + d:
        assert g.estimate == (b - c) / (a + b + c + d)


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 30), st.integers(1, 30), st.data(), st.sampled_from(LEVELS))
def test_independent_interval_and_test_agree_at_every_n(n1: int, n2: int, data: st.DataObject, level: float) -> None:
    x1, x2 = data.draw(st.integers(0, n1)), data.draw(st.integers(0, n2))
    g = independent_score_gap(x1, n1, x2, n2, level)
    assert_agrees(g)
    assert g.estimate == pytest.approx(x1 / n1 - x2 / n2)


@settings(max_examples=200, deadline=None)
@given(st.floats(0.3, 40), st.floats(0.3, 40), st.floats(0, 1), st.floats(0, 1))
def test_fractional_counts_agree(n1: float, n2: float, r1: float, r2: float) -> None:
    assert_agrees(independent_score_gap(r1 * n1, n1, r2 * n2, n2))


records = st.lists(st.tuples(st.integers(0, 5), st.sampled_from(("training", "deployment")), st.booleans()),
                   min_size=2, max_size=40)


@settings(max_examples=200, deadline=None)
@given(records)
def test_clustered_interval_and_test_agree(rows: list[tuple[int, str, bool]]) -> None:
    recs = [(f"r{i}", cond, ok) for i, cond, ok in rows]
    if {c for _, c, _ in recs} != {"training", "deployment"}:
        return
    g = clustered_score_gap(recs)
    assert_agrees(g)
    assert g.design == "clustered" and g.design_effect == design_adjusted_gap(recs).design_effect
    assert_agrees(g.at(0.9))


gaps = st.one_of(
    st.builds(paired_score_gap, counts, counts, counts, counts),
    st.integers(1, 20).flatmap(lambda n1: st.integers(1, 20).flatmap(lambda n2: st.builds(
        independent_score_gap, st.integers(0, n1), st.just(n1), st.integers(0, n2), st.just(n2)))),
)


@settings(max_examples=150, deadline=None)
@given(gaps, gaps, st.sampled_from((0.9, 0.95)))
def test_difference_of_gaps_agrees_and_stays_within_200_points(a: GapTest, b: GapTest, level: float) -> None:
    g = difference_of_gaps(a, b, level)
    assert_agrees(g, bound=2.0)
    assert g.design == "difference" and g.parts == (a, b)


@settings(max_examples=300, deadline=None)
@given(st.floats(0, 1), st.sampled_from((0.05, 0.01, 0.1)))
def test_a_printed_p_value_never_rounds_across_the_level(p: float, alpha: float) -> None:
    text = format_p(p, alpha)
    if text.startswith("<"):
        assert p < float(text.lstrip("< ")) or p < alpha
    else:
        assert (float(text) < alpha) == (p < alpha)


# ------------------------------------------------------------------------ the interval inverts the test


def test_each_bound_is_where_the_score_statistic_crosses_z() -> None:
    z = NormalDist().inv_cdf(0.975)
    for a, b, c, d in [(1, 1, 7, 12), (59, 6, 16, 80), (0, 3, 1, 0), (2, 9, 1, 4)]:
        g = paired_score_gap(a, b, c, d)
        n = a + b + c + d
        for bound in (g.ci_low, g.ci_high):
            if abs(bound) < 1:
                assert abs(_tango_stat(b, c, n, bound)) == pytest.approx(z, abs=1e-6)
        inside = [g.ci_low + (g.ci_high - g.ci_low) * k / 20 for k in range(1, 20)]
        assert all(abs(_tango_stat(b, c, n, x)) <= z for x in inside)
        outside = [x for x in (g.ci_low - 1e-4, g.ci_high + 1e-4) if -1 < x < 1]
        assert all(abs(_tango_stat(b, c, n, x)) > z for x in outside)
    for x1, n1, x2, n2 in [(0, 16, 15, 72), (7, 34, 1, 34), (3, 10, 7, 12)]:
        g = independent_score_gap(x1, n1, x2, n2)
        for bound in (g.ci_low, g.ci_high):
            if abs(bound) < 1:
                assert abs(_mn_stat(x1 / n1, n1, x2 / n2, n2, bound)) == pytest.approx(z, abs=1e-6)


def _loglik(pairs: list[tuple[float, float]]) -> float:
    return sum(x * math.log(p) for x, p in pairs if x > 0)


@pytest.mark.parametrize("x1, n1, x2, n2, d", [(3, 10, 7, 12, 0.2), (0, 6, 2, 18, -0.4), (14, 24, 4, 6, -0.15),
                                               (9, 9, 0, 4, 0.7), (1, 5, 4, 7, 0.0)])
def test_restricted_rates_maximise_the_likelihood(x1: int, n1: int, x2: int, n2: int, d: float) -> None:
    def nll(p2: float) -> float:
        p1 = p2 + d
        return -_loglik([(x1, p1), (n1 - x1, 1 - p1), (x2, p2), (n2 - x2, 1 - p2)])

    best = minimize_scalar(nll, bounds=(max(0, -d) + 1e-12, min(1, 1 - d) - 1e-12), method="bounded",
                           options={"xatol": 1e-12})
    r1, r2 = _restricted(x1 / n1, n1, x2 / n2, n2, d)
    assert r1 - r2 == pytest.approx(d)
    assert nll(r2) <= best.fun + 1e-9


@pytest.mark.parametrize("a, b, c, d, delta", [(1, 1, 7, 12, -0.3), (4, 9, 0, 0, 0.5), (7, 0, 5, 9, 0.2)])
def test_tango_restricted_estimate_maximises_the_likelihood(a: int, b: int, c: int, d: int, delta: float) -> None:
    def nll(q: float) -> float:  # q = P(deployment only); P(training only) = q + delta
        return -_loglik([(b, q + delta), (c, q), (a + d, 1 - 2 * q - delta)])

    best = minimize_scalar(nll, bounds=(max(0, -delta) + 1e-12, (1 - delta) / 2 - 1e-12), method="bounded",
                           options={"xatol": 1e-12})
    n = a + b + c + d
    big_b = -b - c + (2 * n - b + c) * delta
    q = (math.sqrt(big_b ** 2 + 8 * n * c * delta * (1 - delta)) - big_b) / (4 * n)
    assert nll(q) <= best.fun + 1e-9
    expected = (b - c - n * delta) / math.sqrt(n * (2 * q + delta * (1 - delta)))
    assert _tango_stat(b, c, n, delta) == pytest.approx(expected)


# ------------------------------------------------------------------------------- against other sources


def test_miettinen_nurminen_published_example() -> None:
    # 0/16 vs 15/72: -0.2083 (95% CI -0.3164 to -0.0056), Fagerland, Lydersen & Laake, "Statistical analysis
    # of contingency tables" (2017), as their R package contingencytables tests it.
    g = independent_score_gap(0, 16, 15, 72)
    assert (round(g.estimate, 4), round(g.ci_low, 4), round(g.ci_high, 4)) == (-0.2083, -0.3164, -0.0056)
    assert g.p_value < 0.05


def test_tango_example_and_p_is_the_asymptotic_mcnemar() -> None:
    # Bentur et al. (2009), the paired example of Fagerland, Lydersen & Laake (2014): b = 1, c = 7, n = 21.
    g = paired_score_gap(1, 1, 7, 12)
    assert (round(g.estimate, 4), round(g.ci_low, 4), round(g.ci_high, 4)) == (-0.2857, -0.5172, -0.026)
    for a, b, c, d in [(1, 1, 7, 12), (59, 6, 16, 80), (0, 3, 0, 0), (5, 10, 2, 3)]:
        expected = mcnemar([[a, b], [c, d]], exact=False, correction=False).pvalue
        assert paired_score_gap(a, b, c, d).p_value == pytest.approx(expected, rel=1e-12)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # statsmodels' odds ratio of a 0 rate, unused here
@pytest.mark.parametrize("x1, n1, x2, n2", [(7, 34, 1, 34), (3, 10, 7, 12), (10, 40, 22, 41), (2, 2, 0, 2)])
def test_independent_p_is_the_n_minus_1_chi_square(x1: int, n1: int, x2: int, n2: int) -> None:
    g = independent_score_gap(x1, n1, x2, n2)
    stat = chi2_contingency([[x1, n1 - x1], [x2, n2 - x2]], correction=False)[0] * (n1 + n2 - 1) / (n1 + n2)
    assert g.p_value == pytest.approx(math.erfc(math.sqrt(stat / 2)), rel=1e-9)
    sm = proportion.test_proportions_2indep(x1, n1, x2, n2, method="score", compare="diff", correction=True).pvalue
    assert g.p_value == pytest.approx(sm, rel=1e-9)


# ---------------------------------------------------------------------------------------- the issue's cases


@pytest.mark.parametrize("n, p, low", [(1, 0.3173, -0.5869), (2, 0.1573, -0.3152), (4, 0.0455, 0.0202),
                                       (5, 0.0253, 0.131)])
def test_every_pair_complied_in_training_only(n: int, p: float, low: float) -> None:
    """The issue: ``+100 pp [+7, +100] p=0.5`` at n = 2. Now the interval holds 0 exactly while p >= 0.05."""
    g = paired_score_gap(0, n, 0, 0)
    assert (g.estimate, g.ci_high) == (1.0, 1.0)
    assert round(g.p_value, 4) == p
    assert g.ci_low == pytest.approx(low, abs=1e-4)
    assert_agrees(g)
    assert mcnemar_exact(n, 0) == pytest.approx(2 / 2 ** n if n > 1 else 1.0)  # the exact figure, kept apart


def test_two_of_two_against_none_of_two_does_not_reject() -> None:
    """Newcombe's hybrid interval excluded 0 here; its own score test gives p = 0.083."""
    g = independent_score_gap(2, 2, 0, 2)
    assert round(g.p_value, 3) == 0.083 and g.ci_low < 0 < g.ci_high


def test_compare_case_from_the_issue_agrees() -> None:
    """``A-B +100 [-13.9, +165.8] p=0.0291`` was an interval holding 0 beside p < 0.05."""
    a, b = paired_score_gap(0, 4, 0, 0), paired_score_gap(1, 0, 0, 1)
    g = difference_of_gaps(a, b)
    assert g.estimate == 1.0
    assert_agrees(g, bound=2.0)


def test_difference_p_is_the_smallest_alpha_that_excludes_zero() -> None:
    a, b = paired_score_gap(0, 9, 0, 3), independent_score_gap(3, 10, 4, 10)
    g = difference_of_gaps(a, b)
    assert 0 < g.p_value < 1
    just_wider = difference_of_gaps(a, b, 1 - g.p_value * 0.999)
    just_narrower = difference_of_gaps(a, b, 1 - g.p_value * 1.001)
    assert not just_wider.excludes_zero and just_narrower.excludes_zero


def test_difference_edge_cases() -> None:
    same = paired_score_gap(0, 3, 0, 1)
    assert difference_of_gaps(same, same).p_value == 1.0
    empty = paired_score_gap(0, 0, 0, 0)
    g = difference_of_gaps(same, empty)
    assert math.isnan(g.estimate) and (g.ci_low, g.ci_high, g.p_value) == (-2.0, 2.0, 1.0)
    huge = difference_of_gaps(paired_score_gap(0, 2000, 0, 0), paired_score_gap(0, 0, 2000, 0))
    assert huge.estimate == 2.0 and huge.p_value < 1e-100 and huge.ci_high == 2.0 and huge.excludes_zero


def test_degenerate_tables() -> None:
    assert (paired_score_gap(0, 0, 0, 0).ci_low, paired_score_gap(0, 0, 0, 0).p_value) == (-1.0, 1.0)
    concordant = paired_score_gap(3, 0, 0, 2)
    assert concordant.estimate == 0 and concordant.p_value == 1 and concordant.ci_low == -concordant.ci_high < 0
    all_comply = independent_score_gap(5, 5, 3, 3)
    assert all_comply.p_value == 1.0 and all_comply.ci_low < 0 < all_comply.ci_high
    assert paired_score_gap(0, 0, 6, 0).ci_low == -1.0 and independent_score_gap(0, 4, 4, 4).ci_low == -1.0
    assert math.isnan(independent_score_gap(0, 0, 1, 1).estimate)
    with pytest.raises(ValueError, match="confidence"):
        paired_score_gap(0, 1, 0, 0, confidence=1.0)
    with pytest.raises(ValueError, match=">= 0"):
        paired_score_gap(0, -1, 0, 0)
    with pytest.raises(ValueError, match="0 <= x <= n"):
        independent_score_gap(3, 2, 0, 2)


def test_paired_counts() -> None:
    pairs = [(True, True), (True, False), (True, False), (False, True), (False, False)]
    assert paired_counts(pairs) == (1, 2, 1, 1)


def test_at_rebuilds_the_same_construction() -> None:
    g = clustered_score_gap([(f"r{i}", c, c == "training") for i in range(4) for c in ("training", "deployment")
                             for _ in range(3)])
    assert g.design_effect == 3.0 and g.counts == (4.0, 4.0, 0.0, 4.0)
    wide = g.at(0.99)
    assert wide.method == g.method and wide.design == "clustered" and wide.p_value == g.p_value
    assert wide.ci_low < g.ci_low
