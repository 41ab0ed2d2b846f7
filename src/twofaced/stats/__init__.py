"""Statistics as pure functions: rates, intervals, gaps. No I/O."""

from ._rates import Interval, newcombe_difference, wilson

__all__ = ["Interval", "newcombe_difference", "wilson"]
