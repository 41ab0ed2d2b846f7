"""What every signal watched by CUSUMs shares: its design (``p0``, ``shift``, ``false_alarm_every``), its named
detectors with their excursions, and the one shape of its status and stored state.

The live (``_detector.py``), canary (``_canary.py``) and probe (``_probe_signal.py``) signals subclass
:class:`CusumSignal` and keep only what is theirs: the outcome they count, the counts behind their interval, and
the extra fields of their status and state. The base owns ``matches``, ``reset``, the update of the detectors
(``stats.track``), the head and tail of ``status`` and the common keys of ``to_dict`` / ``from_dict``.

Invariant: the stored state keeps one layout, so a state written by any version of this code loads in another:
``version``, ``signal``, ``p0``, ``shift``, ``false_alarm_every``, then the signal's own counts, then
``detectors`` and ``excursions`` (``stats.detectors_to_dict``). The status begins with ``signal``, ``outcome``,
``baseline_rate``, the live rate with its confidence sequence, ``alpha`` and ``observations``, and ends with
``detectors`` and ``alarm``; what lies between is the signal's own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar, Generic, TypeVar

from ..errors import ConfigError
from ..stats import BernoulliCusum, confidence_sequence, threshold_for_arl
from ..stats._sequential import Excursions, detectors_from_dict, detectors_to_dict, track

TRACE_LIMIT = 200  # excursion entries kept per direction: the incident's evidence
STATE_VERSION = 1

P0 = TypeVar("P0", float, dict[str, float])  # one in-control rate, or one per direction (the canary's)


def check_state(data: dict[str, Any], signal: str, version: int) -> None:
    """Refuse (ConfigError) a stored state of another signal, or of another version than this code writes; shared
    by the signals' ``from_dict``."""
    if data.get("version") != version or data.get("signal") != signal:
        raise ConfigError(f"stored {signal}-signal state has version {data.get('version')!r}; this twofaced reads "
                          f"version {version}")


def rise_target(p0: float, shift: float) -> float:
    """The rate a rise detector watches for: ``p0 + shift``, or half the distance to 1 where that is nearer."""
    return min(p0 + shift, (1 + p0) / 2)


def cusum_for(p0: float, p1: float, false_alarm_every: float) -> BernoulliCusum:
    """A detector for ``p0 -> p1`` with the threshold of an in-control ARL of ``false_alarm_every`` (exact)."""
    return BernoulliCusum(p0, p1, threshold_for_arl(p0, p1, false_alarm_every))


def _by_direction(p0: float | Mapping[str, float], directions: tuple[str, ...]) -> Mapping[str, float]:
    return p0 if isinstance(p0, Mapping) else dict.fromkeys(directions, p0)


class CusumSignal(Generic[P0]):
    """Base of a signal watched by named one-sided CUSUMs (one per direction). Subclasses are slotted dataclasses
    that declare these fields and set ``SIGNAL`` and ``DIRECTIONS``; the monitor (``_runtime.py``) calls
    :meth:`matches` on a restored state, ``observe`` per outcome, :meth:`reset` on an acknowledgement, ``status``
    for the read commands and ``to_dict`` after every update."""

    __slots__ = ()
    SIGNAL: ClassVar[str]
    DIRECTIONS: ClassVar[tuple[str, ...]]

    p0: P0
    shift: float
    false_alarm_every: float
    detectors: dict[str, BernoulliCusum]
    excursions: Excursions

    def matches(self, p0: P0, shift: float, false_alarm_every: float) -> bool:
        """Whether stored state was made for this design (else the monitor starts a new walk, and says so)."""
        stored, given = _by_direction(self.p0, self.DIRECTIONS), _by_direction(p0, self.DIRECTIONS)
        return (all(math.isclose(stored.get(d, -1), given[d], rel_tol=1e-12) for d in self.DIRECTIONS)
                and math.isclose(self.shift, shift, rel_tol=1e-12)
                and math.isclose(self.false_alarm_every, false_alarm_every, rel_tol=1e-12))

    def reset(self, direction: str) -> None:
        """After an acknowledgement: the direction's statistic back to 0 and its excursion cleared."""
        self.detectors[direction].reset()
        self.excursions[direction].clear()

    def _track(self, outcomes: Mapping[str, int], evidence: Mapping[str, Any]) -> list[str]:
        """Update every detector with its outcome (``evidence``: what the excursion keeps to cite it); returns the
        directions that entered alarm on it."""
        return track(self.detectors, self.excursions, outcomes, evidence, TRACE_LIMIT)

    def _status(self, alpha: float, *, outcome: str, baseline_rate: float, events: int, n: int,
                extra: Mapping[str, Any], detectors: dict[str, Any] | None = None) -> dict[str, Any]:
        """The status in the shape every signal shares: the live rate of ``events`` in ``n`` with its confidence
        sequence, the signal's own ``extra`` fields, then each detector (``detectors`` replaces the default view
        of them)."""
        ci = confidence_sequence(events, n, alpha)
        if detectors is None:
            detectors = {d: {"p1": c.p1, "statistic": c.statistic, "threshold": c.h, "alarm": c.alarm,
                             "alarms": c.alarms} for d, c in self.detectors.items()}
        return {
            "signal": self.SIGNAL, "outcome": outcome, "baseline_rate": baseline_rate,
            "live_rate": None if n == 0 else ci.estimate, "live_ci_low": ci.low, "live_ci_high": ci.high,
            "alpha": alpha, "observations": n, **extra,
            "detectors": detectors, "alarm": any(c.alarm for c in self.detectors.values()),
        }

    def _state(self, counts: Mapping[str, Any]) -> dict[str, Any]:
        """The stored state: the design, the signal's own ``counts``, the detectors and their excursions."""
        return {"version": STATE_VERSION, "signal": self.SIGNAL, "p0": self.p0, "shift": self.shift,
                "false_alarm_every": self.false_alarm_every, **counts,
                **detectors_to_dict(self.detectors, self.excursions)}

    @classmethod
    def _read_state(cls, data: dict[str, Any]) -> tuple[dict[str, BernoulliCusum], Excursions]:
        """The detectors and excursions of a stored state, after refusing (ConfigError) one of another signal or
        version; the subclass's ``from_dict`` reads the rest."""
        check_state(data, cls.SIGNAL, STATE_VERSION)
        return detectors_from_dict(data, cls.DIRECTIONS)
