"""Binary classification metrics against sklearn, and the undefined rates as None."""

from __future__ import annotations

import random

import pytest

from twofaced.stats import Confusion, confusion


@pytest.mark.parametrize("seed", range(15))
def test_confusion_matches_sklearn(seed: int) -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = random.Random(seed)
    n = rng.randint(1, 60)
    labels = [rng.randint(0, 1) for _ in range(n)]
    predicted = [rng.random() < 0.5 for _ in range(n)]
    c = confusion(predicted, labels)
    tn, fp, fn, tp = metrics.confusion_matrix(labels, predicted, labels=[0, 1]).ravel().tolist()
    assert (c.tp, c.fp, c.tn, c.fn, c.n) == (tp, fp, tn, fn, n)
    assert c.accuracy == pytest.approx(metrics.accuracy_score(labels, predicted))
    if tp + fp:
        assert c.precision == pytest.approx(metrics.precision_score(labels, predicted))
    if tp + fn:
        assert c.recall == pytest.approx(metrics.recall_score(labels, predicted))
    if tp + fp + fn:
        assert c.f1 == pytest.approx(metrics.f1_score(labels, predicted))
    if tn + fp:
        assert c.specificity == pytest.approx(tn / (tn + fp))


def test_confusion_by_hand() -> None:
    c = confusion([True, True, True, False, False], [1, 1, 0, 1, 0])
    assert c == Confusion(tp=2, fp=1, tn=1, fn=1)
    assert c.counts() == {"tp": 2, "fp": 1, "tn": 1, "fn": 1} and list(c.counts()) == ["tp", "fp", "tn", "fn"]
    assert (c.accuracy, c.precision, c.recall, c.specificity, c.f1) == (0.6, 2 / 3, 2 / 3, 0.5, 2 / 3)


def test_undefined_rates_are_none() -> None:
    empty = confusion([], [])
    assert empty.n == 0 and (empty.accuracy, empty.precision, empty.recall, empty.specificity, empty.f1) == (None,) * 5
    no_positive_predictions = confusion([False, False], [1, 0])
    assert no_positive_predictions.precision is None and no_positive_predictions.recall == 0.0
    only_negatives = confusion([False, False], [0, 0])
    assert only_negatives.recall is None and only_negatives.f1 is None and only_negatives.accuracy == 1.0


def test_counts_are_python_ints_and_bad_labels_raise() -> None:
    np = pytest.importorskip("numpy")
    c = confusion(np.array([0.7, 0.2]) >= 0.5, np.array([1, 0]))
    assert all(type(v) is int for v in c.counts().values())
    with pytest.raises(ValueError, match="labels must be 0 or 1, got 3"):
        confusion([True], [3])
    with pytest.raises(ValueError):
        confusion([True, False], [1])
