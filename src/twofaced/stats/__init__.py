"""Statistics as pure functions: rates, intervals, gaps, AUROC, classification metrics, multiplicity, power,
sequential detection (Bernoulli CUSUM, confidence sequences). No I/O.

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
from ._confseq import confidence_sequence, mixture_log_martingale
from ._cusum_sim import CusumSimulation, simulate
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
from ._sequential import BernoulliCusum, arl, conditional_delay, siegmund_arl, threshold_for_arl

__all__ = [
    "METHOD_DELONG",
    "METHOD_SCORE",
    "AurocInterval",
    "BernoulliCusum",
    "ClusteredGap",
    "Confusion",
    "CusumSimulation",
    "GapTest",
    "Interval",
    "PairedGap",
    "Plan",
    "arl",
    "auroc",
    "auroc_interval",
    "clustered_gap",
    "clustered_score_gap",
    "conditional_delay",
    "confidence_sequence",
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
    "mixture_log_martingale",
    "mover_difference",
    "newcombe_auroc_variance",
    "newcombe_difference",
    "newcombe_score_interval",
    "paired_counts",
    "paired_gap",
    "paired_score_gap",
    "plan_sample_size",
    "power_of",
    "siegmund_arl",
    "simulate",
    "threshold_for_arl",
    "wilson",
]
