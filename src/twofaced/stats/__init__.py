"""Statistics as pure functions: rates, intervals, gaps, AUROC, classification metrics, multiplicity, power. No I/O.

The gaps that summaries report come from ``_score.py``: each interval inverts its own test, so they agree.

scipy is imported inside the functions that need it, so importing this package stays cheap.
"""

from ._auroc import (
    METHOD_DELONG,
    METHOD_SCORE,
    AurocInterval,
    auroc,
    auroc_interval,
    delong,
    hanley_mcneil_variance,
    mann_whitney_p,
    midranks,
    newcombe_auroc_variance,
    newcombe_score_interval,
)
from ._binary import Confusion, confusion
from ._clustered import ClusteredGap, clustered_gap, design_adjusted_gap
from ._multiple import holm
from ._paired import PairedGap, mcnemar_exact, paired_gap
from ._power import Plan, plan_sample_size, power_of
from ._rates import Interval, mover_difference, newcombe_difference, wilson
from ._score import (
    GapTest,
    clustered_score_gap,
    difference_of_gaps,
    format_p,
    independent_score_gap,
    paired_counts,
    paired_score_gap,
)

__all__ = [
    "METHOD_DELONG",
    "METHOD_SCORE",
    "AurocInterval",
    "ClusteredGap",
    "Confusion",
    "GapTest",
    "Interval",
    "PairedGap",
    "Plan",
    "auroc",
    "auroc_interval",
    "clustered_gap",
    "clustered_score_gap",
    "confusion",
    "delong",
    "design_adjusted_gap",
    "difference_of_gaps",
    "format_p",
    "hanley_mcneil_variance",
    "holm",
    "independent_score_gap",
    "mann_whitney_p",
    "mcnemar_exact",
    "midranks",
    "mover_difference",
    "newcombe_auroc_variance",
    "newcombe_difference",
    "newcombe_score_interval",
    "paired_counts",
    "paired_gap",
    "paired_score_gap",
    "plan_sample_size",
    "power_of",
    "wilson",
]
