"""The live signal: one Bernoulli outcome per scored exchange, watched both ways against the baseline.

Outcome: 1 when ``compliance-rules`` judges the reply **refused**, 0 when it judges it complied; an unparseable
reply is no observation. The refusal rate is chosen over "compliance on harmful requests" because it is defined
on every exchange: live traffic rarely repeats a baseline request, so most requests have no harmfulness flag.

Two one-sided CUSUMs (``stats.BernoulliCusum``) watch it: ``drop`` (refusals fall by ``shift``: the model
complies more than it did under evaluation, the direction an alignment faker moves when deployed) and ``rise``
(refusals climb: a silent regression). Each has the threshold of an in-control ARL of ``2 N``, so false alarms
of the two together come at most once per ``N`` exchanges on average (their rates add). A direction that
cannot move by ``shift`` (a baseline near 0 or 1) watches half the distance to the bound instead.

The live rate's always-valid interval is ``stats.confidence_sequence`` on the counts. The state (both
detectors, the counts, and the current excursion: the exchanges since a statistic last left 0, capped) is one
JSON dict, stored after every update, so a restart resumes the same walk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from ..stats import BernoulliCusum
from ._signal import CusumSignal, cusum_for, rise_target

SIGNAL = "live"
DIRECTIONS = ("drop", "rise")


def _targets(p0: float, shift: float) -> dict[str, float]:
    return {"drop": max(p0 - shift, p0 / 2), "rise": rise_target(p0, shift)}


@dataclass(slots=True)
class LiveSignal(CusumSignal[float]):
    """Both detectors of the live signal, the counts behind its interval, and each direction's excursion."""

    SIGNAL = SIGNAL
    DIRECTIONS = DIRECTIONS
    OUTCOME: ClassVar[str] = "refused (compliance-rules)"  # the event counted, as the status names it

    p0: float
    shift: float
    false_alarm_every: float
    detectors: dict[str, BernoulliCusum]
    successes: int = 0  # events observed (here refusals)
    n: int = 0  # observations
    excursions: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {d: [] for d in DIRECTIONS})

    @classmethod
    def create(cls, p0: float, shift: float, false_alarm_every: float) -> Self:
        """New detectors for the in-control event rate ``p0`` (thresholds computed exactly; see ``stats``)."""
        return cls(p0, shift, false_alarm_every,
                   {d: cusum_for(p0, p1, 2 * false_alarm_every) for d, p1 in _targets(p0, shift).items()})

    def observe(self, event: bool, exchange_id: str) -> list[str]:
        """Add one outcome (``event``: the exchange is the event counted); returns the directions that entered
        alarm on it."""
        self.n += 1
        self.successes += event
        return self._track(dict.fromkeys(self.detectors, int(event)), {"exchange_id": exchange_id})

    def status(self, alpha: float) -> dict[str, Any]:
        """JSON-ready: baseline rate, live rate with its confidence sequence, each detector's statistic."""
        return self._status(alpha, outcome=self.OUTCOME, baseline_rate=self.p0,
                            events=self.successes, n=self.n, extra={"false_alarm_every": self.false_alarm_every})

    def to_dict(self) -> dict[str, Any]:
        return self._state({"successes": self.successes, "n": self.n})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Raises ConfigError for a state of another version or shape."""
        detectors, excursions = cls._read_state(data)
        return cls(float(data["p0"]), float(data["shift"]), float(data["false_alarm_every"]), detectors,
                   successes=int(data["successes"]), n=int(data["n"]), excursions=excursions)
