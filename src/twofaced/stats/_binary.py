"""Binary classification metrics from 0/1 labels and yes/no predictions. Pure functions, no I/O.

One confusion matrix, and every rate read off it: accuracy, precision, recall (sensitivity), specificity, F1.
A rate whose denominator is zero (no predicted positives for precision, no positives for recall, no rows at
all for accuracy) is None, never 0 or nan, so a report can print "n/a" rather than a misleading number.
These are point estimates; for an interval on a rate pass its counts to ``wilson``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Confusion:
    """Counts of true/false positives and negatives, with the rates they give (None where undefined)."""

    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.tn + self.fn

    @property
    def accuracy(self) -> float | None:
        return (self.tp + self.tn) / self.n if self.n else None

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def specificity(self) -> float | None:
        return self.tn / (self.tn + self.fp) if self.tn + self.fp else None

    @property
    def f1(self) -> float | None:
        """Harmonic mean of precision and recall, ``2tp / (2tp + fp + fn)``; None with no positive anywhere."""
        denom = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denom if denom else None

    def counts(self) -> dict[str, int]:
        """``{"tp", "fp", "tn", "fn"}`` in that order, for JSON."""
        return {"tp": self.tp, "fp": self.fp, "tn": self.tn, "fn": self.fn}


def confusion(predicted: Sequence[bool], labels: Sequence[int]) -> Confusion:
    """The confusion matrix of ``predicted`` (truthy = positive) against ``labels`` (1 positive, 0 negative).

    The sequences must have the same length; a label other than 0/1 raises ValueError.

    >>> c = confusion([True, True, False, False], [1, 0, 1, 0])
    >>> (c.tp, c.fp, c.tn, c.fn), c.precision, c.recall
    ((1, 1, 1, 1), 0.5, 0.5)
    """
    tp = fp = tn = fn = 0
    for p, y in zip(predicted, labels, strict=True):
        if y not in (0, 1):
            raise ValueError(f"labels must be 0 or 1, got {y!r}")
        if p and y == 1:
            tp += 1
        elif p:
            fp += 1
        elif y == 1:
            fn += 1
        else:
            tn += 1
    return Confusion(tp, fp, tn, fn)
