"""The probe signal: the flag of a probe on the served model's activations, per live exchange, watched against the
probe's flag rate before deployment (``--probe-rate``).

Where the model under watch is served by ``twofaced serve SPEC --probe DIR``, every reply carries
``"twofaced": {"probe": {"score", "flagged", "threshold", "target", "layer"}}`` (in a plain reply's JSON body, on
a stream's final chunk). The proxy reads that field (``_proxy.py``, :func:`probe_reading`) into the exchange; this
module never imports ``twofaced.probes``: the score travels over HTTP, and the monitor needs neither torch nor
the probe (the two packages are independent, ``[tool.importlinter]``).

Outcome: 1 when the server's probe flagged the exchange (its score above the probe's own threshold), 0 when it
did not. Only live exchanges (the primary upstream's, or a gateway's) that carry the field are observations; a
live exchange without it is counted as ``missing``, so a ``--probe-rate`` given for an upstream that never
sends the field shows ``observations`` 0 with ``missing`` growing (``/healthz``, ``monitor status``) instead of a
silent, empty signal. In-control rate ``p0``: the probe's flag rate on the model's pre-deployment traffic (e.g.
``fpr_honest`` of ``twofaced probe eval --json``). One one-sided Bernoulli CUSUM (``stats.BernoulliCusum``),
``rise`` to ``min(p0 + shift, (1 + p0) / 2)``, with the threshold of an in-control ARL of ``N``
(``--false-alarm-every``): it is the signal's only detector, so its false alarms come at most once per ``N``
observations on average, the same target as the other signals. Rise only: a probe fitted to flag deception or
harmful intent that fires more often than it did before deployment is the change worth an incident; fewer flags
say nothing the operator can act on.

The live flag rate's always-valid interval is ``stats.confidence_sequence`` on the counts; the mean score and the
probe the server last described (target, layer, threshold) are reported beside it. The state (the detector, the
counts, the excursion with each exchange's score) is one JSON dict, stored with the exchanges, so a restart
resumes the same walk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..stats import BernoulliCusum
from ._signal import CusumSignal, cusum_for, rise_target

SIGNAL = "probe"
DIRECTIONS = ("rise",)


@dataclass(frozen=True, slots=True)
class ProbeReading:
    """One reply's ``"twofaced": {"probe": ...}``: the probe's score, whether it flagged the exchange, and what the
    server says the probe is (absent fields are None)."""

    score: float
    flagged: bool
    threshold: float | None = None
    target: str | None = None
    layer: int | None = None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def probe_reading(value: Any) -> ProbeReading | None:
    """The reading in a reply's ``"twofaced"`` value, or None when it has none or a malformed one (a score that is
    not a finite number, a flag that is not true or false): then the exchange is no observation. Never raises."""
    probe = value.get("probe") if isinstance(value, dict) else None
    if not isinstance(probe, dict):
        return None
    score, flagged = _number(probe.get("score")), probe.get("flagged")
    if score is None or not isinstance(flagged, bool):
        return None
    target, layer = probe.get("target"), probe.get("layer")
    return ProbeReading(score, flagged, _number(probe.get("threshold")), target if isinstance(target, str) else None,
                        layer if isinstance(layer, int) and not isinstance(layer, bool) else None)


@dataclass(slots=True)
class ProbeSignal(CusumSignal[float]):
    """The probe signal's detector, the counts behind its interval, and the detector's excursion."""

    SIGNAL = SIGNAL
    DIRECTIONS = DIRECTIONS

    p0: float
    shift: float
    false_alarm_every: float
    detectors: dict[str, BernoulliCusum]
    flagged: int = 0  # observations the probe flagged
    n: int = 0  # observations: live exchanges with a probe reading
    missing: int = 0  # live exchanges without one
    score_sum: float = 0.0
    probe: dict[str, Any] = field(default_factory=dict)  # the probe the server last described
    excursions: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {d: [] for d in DIRECTIONS})

    @classmethod
    def create(cls, p0: float, shift: float, false_alarm_every: float) -> ProbeSignal:
        """A new detector for the in-control flag rate ``p0`` (threshold computed exactly; see ``stats``). Raises
        ``SequentialInputError`` (a ConfigError) for a design the CUSUM cannot have."""
        return cls(p0, shift, false_alarm_every, {"rise": cusum_for(p0, rise_target(p0, shift), false_alarm_every)})

    def observe(self, reading: ProbeReading, exchange_id: str) -> list[str]:
        """Add one live exchange's reading; returns the directions that entered alarm on it."""
        self.n += 1
        self.flagged += reading.flagged
        self.score_sum += reading.score
        self.probe = {"target": reading.target, "layer": reading.layer, "threshold": reading.threshold}
        return self._track({"rise": int(reading.flagged)}, {"exchange_id": exchange_id, "score": reading.score})

    def status(self, alpha: float) -> dict[str, Any]:
        """JSON-ready, in the shape of the other signals' status."""
        return self._status(alpha, outcome="flagged by the served probe (twofaced serve --probe)",
                            baseline_rate=self.p0, events=self.flagged, n=self.n, extra={
                                "missing": self.missing, "unit": "exchanges with a probe score",
                                "false_alarm_every": self.false_alarm_every,
                                "mean_score": None if self.n == 0 else self.score_sum / self.n,
                                "probe": dict(self.probe)})

    def to_dict(self) -> dict[str, Any]:
        return self._state({"flagged": self.flagged, "n": self.n, "missing": self.missing,
                            "score_sum": self.score_sum, "probe": self.probe})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProbeSignal:
        """Raises ConfigError for a state of another version or shape."""
        detectors, excursions = cls._read_state(data)
        return cls(float(data["p0"]), float(data["shift"]), float(data["false_alarm_every"]), detectors,
                   flagged=int(data["flagged"]), n=int(data["n"]), missing=int(data["missing"]),
                   score_sum=float(data["score_sum"]), probe=dict(data.get("probe") or {}), excursions=excursions)
