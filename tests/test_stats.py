"""Wilson and Newcombe intervals against statsmodels and against Newcombe (1998)'s published examples."""

from __future__ import annotations

import math

import pytest
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from twofaced.stats import Interval, newcombe_difference, wilson

GRID = [
    (x, n)
    for n in (1, 2, 3, 5, 7, 10, 13, 20, 29, 50, 100, 257, 1000)
    for x in sorted({0, 1, n // 3, n // 2, n - 1, n})
]


@pytest.mark.parametrize(("x", "n"), GRID)
@pytest.mark.parametrize("confidence", [0.95, 0.90, 0.99])
def test_wilson_matches_statsmodels(x: int, n: int, confidence: float) -> None:
    low, high = proportion_confint(x, n, alpha=1 - confidence, method="wilson")
    ci = wilson(x, n, confidence)
    assert ci.estimate == pytest.approx(x / n, abs=1e-15)
    assert ci.low == pytest.approx(low, abs=1e-12)
    assert ci.high == pytest.approx(high, abs=1e-12)
    assert 0.0 <= ci.low <= ci.estimate <= ci.high <= 1.0


def test_wilson_published_value() -> None:
    # Newcombe (1998a), Table I example: 81/263 -> 0.2553 to 0.3662.
    ci = wilson(81, 263)
    assert (round(ci.low, 4), round(ci.high, 4)) == (0.2553, 0.3662)


def test_wilson_n_zero_is_uninformative() -> None:
    ci = wilson(0, 0)
    assert math.isnan(ci.estimate)
    assert (ci.low, ci.high) == (0.0, 1.0)


@pytest.mark.parametrize("n", [1, 5, 10, 13, 17, 20, 33, 100])
def test_wilson_bounds_are_exact_at_the_edges(n: int) -> None:
    none = wilson(0, n)
    assert none.estimate == 0.0 and none.low == 0.0 and 0.0 < none.high < 1.0
    every = wilson(n, n)
    assert every.estimate == 1.0 and every.high == 1.0 and 0.0 < every.low < 1.0
    # Symmetry: the interval for 0/n mirrors the one for n/n.
    assert every.low == pytest.approx(1 - none.high, abs=1e-12)


def test_wilson_narrows_with_n() -> None:
    widths = [wilson(n // 2, n).high - wilson(n // 2, n).low for n in (10, 100, 1000)]
    assert widths[0] > widths[1] > widths[2]


@pytest.mark.parametrize(("x", "n"), [(-1, 5), (6, 5), (1, -1), (1, 0)])
def test_wilson_rejects_impossible_counts(x: int, n: int) -> None:
    with pytest.raises(ValueError, match="need 0 <= successes <= n"):
        wilson(x, n)


# Newcombe (1998b), "Interval estimation for the difference between independent proportions", Table II,
# method 10 (hybrid score): (x1, n1, x2, n2) -> (low, high), rounded to 4 places.
NEWCOMBE_1998 = [
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((6, 7, 2, 7), (0.0582, 0.8062)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ((0, 10, 0, 10), (-0.2775, 0.2775)),
    ((10, 10, 0, 20), (0.6791, 1.0000)),
    ((10, 10, 0, 10), (0.6075, 1.0000)),
]


@pytest.mark.parametrize(("counts", "expected"), NEWCOMBE_1998)
def test_newcombe_published_examples(counts: tuple[int, int, int, int], expected: tuple[float, float]) -> None:
    x1, n1, x2, n2 = counts
    d = newcombe_difference(x1, n1, x2, n2)
    assert d.estimate == pytest.approx(x1 / n1 - x2 / n2, abs=1e-12)
    assert (round(d.low, 4), round(d.high, 4)) == expected


def test_newcombe_first_example_exactly() -> None:
    d = newcombe_difference(56, 70, 48, 80)
    assert d.estimate == pytest.approx(0.2, abs=1e-12)
    assert d.low == pytest.approx(0.0524, abs=5e-5)
    assert d.high == pytest.approx(0.3339, abs=5e-5)


@pytest.mark.parametrize(
    "counts",
    [(56, 70, 48, 80), (9, 10, 3, 10), (5, 56, 0, 29), (0, 10, 0, 20), (10, 10, 0, 20), (1, 3, 2, 3),
     (30, 30, 0, 30), (17, 40, 25, 40), (0, 1, 1, 1), (123, 200, 80, 210)],
)
def test_newcombe_matches_statsmodels(counts: tuple[int, int, int, int]) -> None:
    x1, n1, x2, n2 = counts
    low, high = confint_proportions_2indep(x1, n1, x2, n2, method="newcomb", compare="diff")
    d = newcombe_difference(x1, n1, x2, n2)
    assert d.low == pytest.approx(float(low), abs=1e-12)
    assert d.high == pytest.approx(float(high), abs=1e-12)


def test_newcombe_is_antisymmetric() -> None:
    a = newcombe_difference(12, 40, 30, 50)
    b = newcombe_difference(30, 50, 12, 40)
    assert a.estimate == pytest.approx(-b.estimate)
    assert a.low == pytest.approx(-b.high)
    assert a.high == pytest.approx(-b.low)


def test_newcombe_with_an_empty_arm_is_undefined() -> None:
    for d in (newcombe_difference(0, 0, 3, 10), newcombe_difference(3, 10, 0, 0)):
        assert math.isnan(d.estimate)
        assert (d.low, d.high) == (-1.0, 1.0)


def test_interval_is_a_frozen_value() -> None:
    ci = wilson(3, 10)
    assert isinstance(ci, Interval)
    with pytest.raises(AttributeError):
        ci.low = 0.0  # type: ignore[misc]
