"""AUROC, DeLong, Hanley-McNeil and Newcombe intervals against sklearn, scipy and hand-worked examples."""

from __future__ import annotations

import math
import random

import pytest

from twofaced.stats import (
    METHOD_DELONG,
    METHOD_SCORE,
    auroc,
    auroc_interval,
    delong,
    hanley_mcneil_variance,
    midranks,
    newcombe_auroc_variance,
    newcombe_score_interval,
)


def _sample(rng: random.Random, n: int, digits: int | None) -> tuple[list[float], list[int]]:
    labels = [rng.randint(0, 1) for _ in range(n)]
    scores = [rng.gauss(0.8 * y, 1.0) for y in labels]
    if digits is not None:
        scores = [round(s, digits) for s in scores]  # rounding makes ties, within and across classes
    return scores, labels


@pytest.mark.parametrize("seed", range(20))
def test_auroc_matches_sklearn_roc_auc_score(seed: int) -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = random.Random(seed)
    scores, labels = _sample(rng, rng.randint(2, 300), rng.choice([None, 1, 0]))
    if len(set(labels)) < 2:
        labels[0], labels[1] = 0, 1
    assert auroc(scores, labels) == pytest.approx(metrics.roc_auc_score(labels, scores), abs=1e-12)


def test_auroc_counts_ties_one_half() -> None:
    # pairs (pos, neg): (0.9, 0.4) 1, (0.9, 0.1) 1, (0.4, 0.4) 1/2, (0.4, 0.1) 1 -> 3.5 / 4
    assert auroc([0.9, 0.4, 0.4, 0.1], [1, 1, 0, 0]) == 0.875
    assert auroc([0.5] * 6, [1, 0, 1, 0, 1, 0]) == 0.5
    assert auroc([1, 1, 0, 0], [0, 0, 1, 1]) == 0.0
    assert auroc([0.2, 0.9], [False, True]) == 1.0  # bools are labels too


def test_auroc_is_the_mann_whitney_statistic() -> None:
    from scipy.stats import mannwhitneyu

    rng = random.Random(3)
    scores, labels = _sample(rng, 80, 0)
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    assert auroc(scores, labels) == pytest.approx(mannwhitneyu(pos, neg).statistic / (len(pos) * len(neg)))


def test_auroc_returns_a_python_float() -> None:
    np = pytest.importorskip("numpy")
    a = auroc(np.array([0.1, 0.7, 0.3]), np.array([0, 1, 1]))
    assert type(a) is float and a == 1.0


def test_auroc_with_one_class_is_none_and_bad_input_raises() -> None:
    assert auroc([0.1, 0.9], [1, 1]) is None
    assert auroc([0.1, 0.9], [0, 0]) is None
    assert auroc([], []) is None
    with pytest.raises(ValueError, match="labels must be 0 or 1, got 2"):
        auroc([0.1, 0.9, 0.5], [0, 1, 2])
    with pytest.raises(ValueError):
        auroc([0.1, 0.9], [0, 1, 1])  # lengths differ


def test_midranks_share_the_mean_rank_of_ties() -> None:
    assert midranks([3.0, 1.0, 3.0, 2.0, 3.0]) == [4.0, 1.0, 4.0, 2.0, 4.0]
    assert midranks([]) == []


def test_delong_by_hand_with_ties() -> None:
    # pos (1, 1, 0) vs neg (1, 0, 0): V10 = (5/6, 5/6, 1/3), V01 = (1/3, 5/6, 5/6); both have sample variance 1/12,
    # so the variance is (1/12)/3 + (1/12)/3 = 1/18 and the AUROC 2/3.
    auc, var = delong([1, 1, 0], [1, 0, 0])
    assert auc == pytest.approx(2 / 3)
    assert var == pytest.approx(1 / 18)


def test_delong_needs_two_per_class() -> None:
    with pytest.raises(ValueError, match="at least 2 scores per class, got 1 and 3"):
        delong([0.5], [0.1, 0.2, 0.3])


def test_hanley_mcneil_at_one_half_is_the_exact_null_variance_of_u() -> None:
    # Under H0 without ties Var(U) = m n (m + n + 1) / 12, so Var(U / mn) = (m + n + 1) / (12 m n).
    for m, n in [(1, 1), (3, 7), (20, 20), (50, 9)]:
        assert hanley_mcneil_variance(0.5, m, n) == pytest.approx((m + n + 1) / (12 * m * n))


def test_newcombe_variance_is_hanley_mcneil_with_equal_classes() -> None:
    for auc in (0.3, 0.5, 0.8, 0.95):
        assert newcombe_auroc_variance(auc, 15, 15) == pytest.approx(hanley_mcneil_variance(auc, 15, 15))


def test_newcombe_score_interval_solves_its_equation_and_shrinks_with_n() -> None:
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.975)
    low, high = newcombe_score_interval(0.75, 12, 20)
    for bound in (low, high):
        assert (0.75 - bound) ** 2 == pytest.approx(z * z * newcombe_auroc_variance(bound, 12, 20), abs=1e-12)
    wide = newcombe_score_interval(0.75, 12, 20)
    narrow = newcombe_score_interval(0.75, 120, 200)
    assert wide[0] < narrow[0] < 0.75 < narrow[1] < wide[1]
    assert newcombe_score_interval(0.75, 12, 20, confidence=0.99)[0] < low


def test_auroc_interval_picks_delong_then_falls_back() -> None:
    rng = random.Random(8)
    scores, labels = _sample(rng, 120, None)
    est = auroc_interval(scores, labels)
    auc, var = delong([s for s, y in zip(scores, labels, strict=True) if y],
                      [s for s, y in zip(scores, labels, strict=True) if not y])
    half = 1.959963984540054 * math.sqrt(var)
    assert est.method == METHOD_DELONG and est.estimate == pytest.approx(auroc(scores, labels))
    assert (est.low, est.high, est.variance) == pytest.approx((auc - half, auc + half, var))
    assert est.n_pos + est.n_neg == 120
    perfect = auroc_interval([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0])  # DeLong variance 0 -> score interval
    assert perfect.method == METHOD_SCORE and perfect.estimate == 1.0 and perfect.high == 1.0 and perfect.low < 1.0
    single = auroc_interval([0.9, 0.2, 0.1], [1, 0, 0])  # one positive: DeLong undefined
    assert single.method == METHOD_SCORE and single.estimate == 1.0 and single.n_pos == 1


def test_auroc_interval_with_one_class_is_all_none() -> None:
    est = auroc_interval([0.2, 0.4, 0.6], [0, 0, 0])
    assert (est.estimate, est.low, est.high, est.variance, est.method) == (None,) * 5
    assert (est.n_pos, est.n_neg) == (0, 3)
