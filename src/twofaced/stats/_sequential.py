"""Bernoulli CUSUM for one monitored signal: exact run lengths, a threshold from a target false-alarm rate, and a
detector whose state is a small dict. Pure, no I/O.

The detector (Page 1954; for a proportion inspected one unit at a time, Reynolds & Stoumbos 1999, "A CUSUM chart
for monitoring a proportion when inspecting continuously", J. Quality Technology 31(1):87-108) accumulates the
log-likelihood ratio of Bernoulli(p1) against the in-control Bernoulli(p0) and alarms when it reaches ``h``:

    S_0 = 0,   S_n = max(0, S_{n-1} + x_n log(p1 / p0) + (1 - x_n) log((1 - p1) / (1 - p0))),   alarm at S_n >= h.

Dividing by ``a + b`` (``a = log(p1 / p0)``, ``b = log((1 - p0) / (1 - p1))``) gives ``max(0, S + x - gamma)`` with
the reference value ``gamma = b / (a + b)``. **Invariant: the detector that runs is the one whose run lengths are
computed.** ``gamma`` is rounded to the nearest fraction ``k / m`` with ``m <= resolution`` (200 by default; the
best approximation of that size, within 1 / (m (resolution + 1)): 7e-6 for 0.1 -> 0.2), so the statistic becomes an
integer walk: ``+(m - k)`` on a success, ``-k`` on a failure, alarm at an integer ``H``. On integers the statistic
is a finite Markov chain on ``0 .. H-1``, and its average run length from any state solves ``(I - Q) L = 1`` exactly
(Brook & Evans 1972, "An approach to the probability distribution of CUSUM run length", Biometrika 59:539-549): no
discretisation error, only the (sparse LU) solver's rounding. So ``arl(p0, p1, h, p0)`` is the exact in-control ARL
(mean exchanges between false alarms) and ``arl(p0, p1, h, p1)`` the exact zero-state delay of the detector the
monitor runs. A statistic in nats is reported as ``steps * unit``.

Threshold from a target: ``threshold_for_arl(p0, p1, N)`` is the smallest integer ``H`` with ARL0 >= N, found by
doubling then bisection (ARL0 increases with H); never hand-tuned. It meets the target from above: at most one
false alarm per N exchanges on average. Binary data make ARL0 a step function of H, so it overshoots N by one
step: under 1% for most designs, more where one event is a large share of the threshold (11% for 0.02 -> 0.12 at
N = 1,000). A drop (``p1 < p0``) is the same chart on ``1 - x`` with rates ``1 - p0`` and ``1 - p1``.

Delay convention: the zero-state delay (change at exchange 0, statistic at 0) counts the exchanges up to and
including the alarm. Since the statistic is never below 0 and larger starting values alarm sooner, it is the
worst case over change times (Lorden's criterion); a change after ``change_at`` in-control exchanges, given no
false alarm before, is detected sooner on average (``conditional_delay`` computes that exactly too).

``siegmund_arl`` is Siegmund's (1985) corrected-diffusion approximation for the untruncated real-valued
CUSUM, for comparison only. ``simulate`` (``_cusum_sim.py``) measures both quantities on random streams.

A signal watched by several named detectors (the monitor's live and canary signals) updates them together with
``track``, which also keeps each one's current excursion (the evidence an alarm cites), and stores them with
``detectors_to_dict`` / ``detectors_from_dict``: one piece of code for every signal.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

DEFAULT_RESOLUTION = 200
MAX_STATES = 200_000  # the sparse LU's fill stays within a few hundred MB
STATE_VERSION = 1
METHOD = ("integer Bernoulli CUSUM (Reynolds & Stoumbos 1999), reference value rounded to k/m with m <= {m}; "
          "run lengths exact by the Markov chain of the integer statistic (Brook & Evans 1972)")


class SequentialInputError(ConfigError, ValueError):
    """A design the CUSUM cannot have (a rate outside (0, 1), p1 == p0, ARL0 < 10, ...): a ConfigError, so the CLI
    prints one line and exits 2, and a ValueError for library callers."""


def check_design(p0: float, p1: float, *, names: tuple[str, str] = ("p0", "p1")) -> None:
    """Refuse rates outside (0, 1) and equal rates, naming the input (``names``: the caller's flag names)."""
    for name, value in zip(names, (p0, p1), strict=True):
        if not (isinstance(value, (int, float)) and 0 < value < 1):
            hint = f" (write {value / 100:g} for {value:g}%)" if isinstance(value, (int, float)) and 1 <= value < 100 \
                else ""
            raise SequentialInputError(f"{name} must be a rate strictly between 0 and 1, got {value}{hint}")
    if p0 == p1:
        raise SequentialInputError(f"{names[1]} must differ from {names[0]} (both {p0}): the CUSUM detects a change "
                                   "of rate; give the shifted rate worth detecting")


@dataclass(frozen=True, slots=True)
class CusumScale:
    """The integer walk of one (p0, p1) design: ``+up`` on an observation that points to p1, ``-down`` otherwise;
    one step is ``unit`` nats of log-likelihood ratio. ``flip``: a drop (p1 < p0), so a 0 points to p1."""

    p0: float
    p1: float
    resolution: int
    up: int
    down: int
    unit: float
    flip: bool
    gamma: float  # the exact reference value b / (a + b), before rounding

    @property
    def reference_value(self) -> float:
        """The rounded reference value the detector uses: down / (up + down)."""
        return self.down / (self.up + self.down)


def cusum_scale(p0: float, p1: float, resolution: int = DEFAULT_RESOLUTION) -> CusumScale:
    """The integer CUSUM for ``p0 -> p1`` at the given resolution (largest denominator of the reference value)."""
    check_design(p0, p1)
    if not (isinstance(resolution, int) and resolution >= 2):
        raise SequentialInputError(f"resolution must be an integer >= 2, got {resolution}")
    flip = p1 < p0
    q0, q1 = (1 - p0, 1 - p1) if flip else (p0, p1)
    a = math.log(q1 / q0)
    b = math.log((1 - q0) / (1 - q1))
    gamma = b / (a + b)
    f = Fraction(gamma).limit_denominator(resolution)
    k, m = f.numerator, f.denominator
    if k == 0:  # gamma below 1 / (2 resolution): the smallest positive reference value the resolution allows
        k, m = 1, resolution
    elif k == m:
        k, m = resolution - 1, resolution
    return CusumScale(p0, p1, resolution, up=m - k, down=k, unit=(a + b) / m, flip=flip, gamma=gamma)


def _p_up(scale: CusumScale, p_true: float) -> float:
    return 1 - p_true if scale.flip else p_true


def _steps(scale: CusumScale, h: float) -> int:
    """The integer threshold for ``h`` nats; the small slack makes ``h = H * unit`` map back to ``H``."""
    if not (math.isfinite(h) and h > 0):
        raise SequentialInputError(f"the CUSUM threshold h must be a positive number of nats, got {h}")
    return max(1, math.ceil(h / scale.unit - 1e-9))


def _too_many_states(scale: CusumScale) -> SequentialInputError:
    return SequentialInputError(f"the CUSUM for {scale.p0} -> {scale.p1} needs over {MAX_STATES} states at this "
                                "target false-alarm rate: detect a larger change or accept more false alarms")


def _arl_vector(scale: CusumScale, threshold: int, p_true: float) -> np.ndarray:
    """Exact average run length from every state ``0 .. threshold-1`` when each observation points to p1 with the
    probability implied by ``p_true``: solves ``(I - Q) L = 1`` with a sparse LU."""
    import numpy as np
    from scipy.sparse import csc_matrix, identity
    from scipy.sparse.linalg import splu

    if threshold > MAX_STATES:
        raise _too_many_states(scale)
    p = _p_up(scale, p_true)
    if not 0 < p < 1:
        raise SequentialInputError(f"the true rate must be strictly between 0 and 1, got {p_true}")
    s = np.arange(threshold)
    up = s + scale.up
    stays = up < threshold
    rows = np.concatenate([s[stays], s])
    cols = np.concatenate([up[stays], np.maximum(0, s - scale.down)])
    vals = np.concatenate([np.full(int(stays.sum()), p), np.full(threshold, 1 - p)])
    q = csc_matrix((vals, (rows, cols)), shape=(threshold, threshold))
    a = (identity(threshold, format="csc") - q).tocsc()
    result: np.ndarray = splu(a).solve(np.ones(threshold))
    return result


def arl(p0: float, p1: float, h: float, p_true: float, *, resolution: int = DEFAULT_RESOLUTION) -> float:
    """Exact zero-state average run length of the CUSUM for ``p0 -> p1`` with threshold ``h`` (nats) when the true
    rate is ``p_true``: ARL0 (mean exchanges to a false alarm) at ``p_true = p0``, the detection delay at
    ``p_true = p1``.

    >>> h = threshold_for_arl(0.1, 0.2, 10_000)
    >>> round(arl(0.1, 0.2, h, 0.1)), round(arl(0.1, 0.2, h, 0.2), 1)
    (10045, 111.4)
    """
    scale = cusum_scale(p0, p1, resolution)
    return float(_arl_vector(scale, _steps(scale, h), p_true)[0])


def threshold_for_arl(p0: float, p1: float, arl0: float, *, resolution: int = DEFAULT_RESOLUTION) -> float:
    """The threshold ``h`` (nats) of the CUSUM for ``p0 -> p1`` with in-control ARL at least ``arl0``: the smallest
    integer threshold of the exact chain that reaches it, so the false-alarm rate is at most one per ``arl0``."""
    if not (math.isfinite(arl0) and arl0 >= 10):
        raise SequentialInputError(f"the target in-control ARL (exchanges per false alarm) must be at least 10, "
                                   f"got {arl0}")
    scale = cusum_scale(p0, p1, resolution)
    return _threshold_steps(scale, arl0) * scale.unit


def _threshold_steps(scale: CusumScale, arl0: float) -> int:
    def arl0_at(threshold: int) -> float:
        return float(_arl_vector(scale, threshold, scale.p0)[0])

    lo, hi = 0, max(1, scale.up)  # ARL0 at lo is below the target (lo = 0: alarm at once), at hi maybe not
    while arl0_at(hi) < arl0:
        if hi == MAX_STATES:
            raise _too_many_states(scale)
        lo, hi = hi, min(2 * hi, MAX_STATES)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if arl0_at(mid) >= arl0:
            hi = mid
        else:
            lo = mid
    return hi


def conditional_delay(p0: float, p1: float, h: float, change_at: int, *,
                      resolution: int = DEFAULT_RESOLUTION) -> float:
    """Exact mean delay (exchanges after the change up to and including the alarm) when the rate moves from p0 to
    p1 after ``change_at`` in-control exchanges, given no false alarm before: the state distribution after
    ``change_at`` steps in control, conditioned on no alarm, times the ARL vector at p1. ``change_at = 0`` is the
    zero-state delay ``arl(p0, p1, h, p1)``, the largest."""
    import numpy as np

    if not (isinstance(change_at, int) and change_at >= 0):
        raise SequentialInputError(f"change_at must be a whole number of exchanges >= 0, got {change_at}")
    scale = cusum_scale(p0, p1, resolution)
    threshold = _steps(scale, h)
    delays = _arl_vector(scale, threshold, p1)
    dist = np.zeros(threshold)
    dist[0] = 1.0
    p = _p_up(scale, p0)
    for _ in range(change_at):
        nxt = np.zeros(threshold)
        cut = threshold - scale.up
        if cut > 0:
            nxt[scale.up:] += p * dist[:cut]
        down = np.maximum(0, np.arange(threshold) - scale.down)
        np.add.at(nxt, down, (1 - p) * dist)
        total = nxt.sum()
        if total <= 0:
            return math.nan
        dist = nxt / total  # renormalise each step: conditioning on no alarm, without underflow
    return float(dist @ delays)


def siegmund_arl(p0: float, p1: float, h: float, p_true: float) -> float:
    """Siegmund's approximation of the ARL of the real-valued CUSUM (no rounding), from the mean ``mu`` and
    standard deviation ``sigma`` of one log-likelihood-ratio increment under ``p_true``:
    ``(exp(-2 mu b / sigma^2) + 2 mu b / sigma^2 - 1) / (2 mu^2 / sigma^2)`` with ``b = h + 1.166 sigma``
    (``b^2 / sigma^2`` at ``mu = 0``). A normal approximation: rough for the skewed increments of a rare event."""
    check_design(p0, p1)
    a = math.log(p1 / p0)
    c = math.log((1 - p1) / (1 - p0))
    mu = p_true * a + (1 - p_true) * c
    sigma = abs(a - c) * math.sqrt(p_true * (1 - p_true))
    b = h + 1.166 * sigma
    if abs(mu) < 1e-15:
        return (b / sigma) ** 2
    z = 2 * mu * b / sigma**2
    return (math.exp(-z) + z - 1) / (2 * mu**2 / sigma**2)


@dataclass(slots=True)
class BernoulliCusum:
    """One-sided Bernoulli CUSUM for ``p0 -> p1`` (a rise if p1 > p0, a drop if p1 < p0) with threshold ``h`` nats.

    The monitor builds one per signal (``BernoulliCusum.for_arl(p0, p1, N)``), calls :meth:`update` with each
    scored exchange (1: the event the signal counts, e.g. a compliance), and stores :meth:`to_dict` so the state
    survives a restart (:meth:`from_dict` refuses a dict of another version or design). The statistic is not
    reset by an alarm: the alarm state holds until the caller calls :meth:`reset` (on acknowledgement).

    >>> c = BernoulliCusum.for_arl(0.1, 0.2, 10_000)
    >>> c.update(1), round(c.statistic, 3)
    (False, 0.693)
    """

    p0: float
    p1: float
    h: float
    resolution: int = DEFAULT_RESOLUTION
    steps: int = 0  # the integer statistic; statistic = steps * unit nats
    n: int = 0  # exchanges seen since the detector was created
    alarms: int = 0  # updates that raised the statistic to the threshold from below
    scale: CusumScale = field(init=False, repr=False)
    threshold_steps: int = field(init=False)

    def __post_init__(self) -> None:
        self.scale = cusum_scale(self.p0, self.p1, self.resolution)
        self.threshold_steps = _steps(self.scale, self.h)
        if not (isinstance(self.steps, int) and 0 <= self.steps and isinstance(self.n, int) and self.n >= 0):
            raise SequentialInputError(f"CUSUM state must have whole steps >= 0 and n >= 0, got steps={self.steps}, "
                                       f"n={self.n}")

    @classmethod
    def for_arl(cls, p0: float, p1: float, arl0: float, *, resolution: int = DEFAULT_RESOLUTION) -> BernoulliCusum:
        """The detector with at most one false alarm per ``arl0`` exchanges on average (exact, see the module)."""
        return cls(p0, p1, threshold_for_arl(p0, p1, arl0, resolution=resolution), resolution)

    @property
    def statistic(self) -> float:
        """The CUSUM statistic in nats of log-likelihood ratio."""
        return self.steps * self.scale.unit

    @property
    def alarm(self) -> bool:
        return self.steps >= self.threshold_steps

    def update(self, x: int | bool) -> bool:
        """Add one observation (1/True: the event happened) and return whether the detector is in alarm."""
        if x not in (0, 1):
            raise ValueError(f"a CUSUM observation is 0 or 1, got {x!r}")
        was = self.alarm
        toward_p1 = bool(x) != self.scale.flip
        self.steps = self.steps + self.scale.up if toward_p1 else max(0, self.steps - self.scale.down)
        self.n += 1
        if self.alarm and not was:
            self.alarms += 1
        return self.alarm

    def reset(self) -> None:
        """Back to 0 (after an alarm is acknowledged); ``n`` and ``alarms`` keep counting."""
        self.steps = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state; ``from_dict`` of it gives an equal detector."""
        return {"version": STATE_VERSION, "kind": "bernoulli-cusum", "p0": self.p0, "p1": self.p1, "h": self.h,
                "resolution": self.resolution, "steps": self.steps, "n": self.n, "alarms": self.alarms}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BernoulliCusum:
        if data.get("kind") != "bernoulli-cusum" or data.get("version") != STATE_VERSION:
            raise SequentialInputError(f"stored detector state is kind {data.get('kind')!r} version "
                                       f"{data.get('version')!r}; this twofaced reads bernoulli-cusum version "
                                       f"{STATE_VERSION}: reset the detector")
        try:
            return cls(float(data["p0"]), float(data["p1"]), float(data["h"]), int(data["resolution"]),
                       steps=int(data["steps"]), n=int(data["n"]), alarms=int(data["alarms"]))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, SequentialInputError):
                raise
            raise SequentialInputError(f"stored detector state is incomplete or malformed ({exc}): reset the "
                                       "detector") from None


Excursions = dict[str, list[dict[str, Any]]]  # per detector name: its current excursion, oldest first


def track(detectors: Mapping[str, BernoulliCusum], excursions: Excursions, outcomes: Mapping[str, int],
          evidence: Mapping[str, Any], limit: int) -> list[str]:
    """Update each named detector with its outcome; returns the names that entered alarm on it.

    Beside each detector the caller keeps its *excursion*: the observations since its statistic last left 0, each
    as ``evidence`` (what the caller needs to cite it, e.g. exchange ids) plus ``x`` and the statistic after it,
    at most ``limit`` (the newest). A statistic back at 0 clears it. It is what an alarm shows as its evidence, and
    JSON-ready, so it is stored with the detectors (:func:`detectors_to_dict`).

        fired = track(detectors, excursions, {"drop": 1, "rise": 1}, {"exchange_id": "ex-1"}, limit=200)
    """
    fired = []
    for name, cusum in detectors.items():
        was = cusum.alarm
        x = outcomes[name]
        cusum.update(x)
        trail = excursions[name]
        if cusum.steps == 0:
            trail.clear()
        else:
            trail.append({**evidence, "x": x, "statistic": cusum.statistic})
            del trail[:-limit]
        if cusum.alarm and not was:
            fired.append(name)
    return fired


def detectors_to_dict(detectors: Mapping[str, BernoulliCusum], excursions: Excursions) -> dict[str, Any]:
    """Named detectors and their excursions as one JSON-ready dict; :func:`detectors_from_dict` reads it back."""
    return {"detectors": {name: c.to_dict() for name, c in detectors.items()}, "excursions": excursions}


def detectors_from_dict(data: Mapping[str, Any], names: Iterable[str]) -> tuple[dict[str, BernoulliCusum], Excursions]:
    """The detectors ``names`` and their excursions from a dict holding :func:`detectors_to_dict`'s keys (a missing
    excursion is empty). A detector of another version or a malformed one raises :class:`SequentialInputError`."""
    names = list(names)
    try:
        detectors = {name: BernoulliCusum.from_dict(data["detectors"][name]) for name in names}
    except (KeyError, TypeError) as exc:
        raise SequentialInputError(f"stored state has no detector {exc}: reset the detector") from None
    stored = data.get("excursions") or {}
    return detectors, {name: list(stored.get(name, [])) for name in names}
