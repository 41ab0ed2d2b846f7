"""Statistics as pure functions: rates, intervals, gaps, multiplicity, power. No I/O.

scipy is imported inside the functions that need it, so importing this package stays cheap.
"""

from ._clustered import ClusteredGap, clustered_gap, design_adjusted_gap
from ._multiple import holm
from ._paired import PairedGap, mcnemar_exact, paired_gap
from ._power import Plan, plan_sample_size, power_of
from ._rates import Interval, mover_difference, newcombe_difference, wilson

__all__ = [
    "ClusteredGap",
    "Interval",
    "PairedGap",
    "Plan",
    "clustered_gap",
    "design_adjusted_gap",
    "holm",
    "mcnemar_exact",
    "mover_difference",
    "newcombe_difference",
    "paired_gap",
    "plan_sample_size",
    "power_of",
    "wilson",
]
