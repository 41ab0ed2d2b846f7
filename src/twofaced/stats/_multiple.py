"""Multiple comparisons: Holm's step-down adjustment of p-values. Pure, no I/O.

Holm (1979), "A simple sequentially rejective multiple test procedure", Scand J Stat 6:65-70. With the m
p-values sorted ascending, the i-th (0-based) is multiplied by ``m - i``; a running maximum keeps the
adjusted values monotone in the raw ones, and each is capped at 1. Rejecting every hypothesis whose
adjusted p-value is <= alpha controls the family-wise error rate at alpha under any dependence between the
tests (no independence assumption), and is uniformly more powerful than Bonferroni. Returned in the input
order; matches ``statsmodels.stats.multitest.multipletests(method="holm")`` (tests check this).
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the order given. An empty input gives an empty list."""
    ps = [float(p) for p in p_values]
    bad = [p for p in ps if math.isnan(p) or not 0.0 <= p <= 1.0]
    if bad:
        raise ValueError(f"p-values must be in [0, 1], got {bad}")
    m = len(ps)
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(sorted(range(m), key=ps.__getitem__)):
        running = max(running, min(1.0, (m - rank) * ps[i]))
        adjusted[i] = running
    return adjusted
