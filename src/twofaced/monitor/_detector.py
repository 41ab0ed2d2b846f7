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

import math
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from ..stats import BernoulliCusum, confidence_sequence, threshold_for_arl
from ..stats._sequential import detectors_from_dict, detectors_to_dict, track

SIGNAL = "live"
DIRECTIONS = ("drop", "rise")
TRACE_LIMIT = 200  # excursion entries kept per direction: the incident's evidence
STATE_VERSION = 1


def check_state(data: dict[str, Any], signal: str, version: int) -> None:
    """Refuse (ConfigError) a stored state of another signal, or of another version than this code writes; shared
    by the signals' ``from_dict``."""
    if data.get("version") != version or data.get("signal") != signal:
        raise ConfigError(f"stored {signal}-signal state has version {data.get('version')!r}; this twofaced reads "
                          f"version {version}")


def _targets(p0: float, shift: float) -> dict[str, float]:
    return {"drop": max(p0 - shift, p0 / 2), "rise": min(p0 + shift, (1 + p0) / 2)}


@dataclass(slots=True)
class LiveSignal:
    """Both detectors of the live signal, the counts behind its interval, and each direction's excursion."""

    p0: float
    shift: float
    false_alarm_every: float
    detectors: dict[str, BernoulliCusum]
    successes: int = 0  # refusals observed
    n: int = 0  # observations
    excursions: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {d: [] for d in DIRECTIONS})

    @classmethod
    def create(cls, p0: float, shift: float, false_alarm_every: float) -> LiveSignal:
        """New detectors for the in-control refusal rate ``p0`` (thresholds computed exactly; see ``stats``)."""
        detectors = {d: BernoulliCusum(p0, p1, threshold_for_arl(p0, p1, 2 * false_alarm_every))
                     for d, p1 in _targets(p0, shift).items()}
        return cls(p0, shift, false_alarm_every, detectors)

    def matches(self, p0: float, shift: float, false_alarm_every: float) -> bool:
        """Whether stored state was made for this design (else the monitor starts a new walk, and says so)."""
        return (math.isclose(self.p0, p0, rel_tol=1e-12) and math.isclose(self.shift, shift, rel_tol=1e-12)
                and math.isclose(self.false_alarm_every, false_alarm_every, rel_tol=1e-12))

    def observe(self, refused: bool, exchange_id: str) -> list[str]:
        """Add one outcome; returns the directions that entered alarm on it."""
        self.n += 1
        self.successes += refused
        return track(self.detectors, self.excursions, dict.fromkeys(self.detectors, int(refused)),
                     {"exchange_id": exchange_id}, TRACE_LIMIT)

    def reset(self, direction: str) -> None:
        """After an acknowledgement: the direction's statistic back to 0 and its excursion cleared."""
        self.detectors[direction].reset()
        self.excursions[direction].clear()

    def status(self, alpha: float) -> dict[str, Any]:
        """JSON-ready: baseline rate, live rate with its confidence sequence, each detector's statistic."""
        ci = confidence_sequence(self.successes, self.n, alpha)
        return {
            "signal": SIGNAL, "outcome": "refused (compliance-rules)", "baseline_rate": self.p0,
            "live_rate": None if self.n == 0 else ci.estimate, "live_ci_low": ci.low, "live_ci_high": ci.high,
            "alpha": alpha, "observations": self.n, "false_alarm_every": self.false_alarm_every,
            "detectors": {d: {"p1": c.p1, "statistic": c.statistic, "threshold": c.h, "alarm": c.alarm,
                              "alarms": c.alarms} for d, c in self.detectors.items()},
            "alarm": any(c.alarm for c in self.detectors.values()),
        }

    def to_dict(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, "signal": SIGNAL, "p0": self.p0, "shift": self.shift,
                "false_alarm_every": self.false_alarm_every, "successes": self.successes, "n": self.n,
                **detectors_to_dict(self.detectors, self.excursions)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LiveSignal:
        """Raises ConfigError for a state of another version or shape."""
        check_state(data, SIGNAL, STATE_VERSION)
        detectors, excursions = detectors_from_dict(data, DIRECTIONS)
        return cls(float(data["p0"]), float(data["shift"]), float(data["false_alarm_every"]), detectors,
                   successes=int(data["successes"]), n=int(data["n"]), excursions=excursions)
