"""Monte Carlo check of the Bernoulli CUSUM: run lengths measured on simulated streams next to the exact theory.
Pure (a seeded numpy generator), no I/O.

Streams are simulated in blocks, all runs at once: within a block the integer statistic is the Lindley
recursion in closed form, ``S_t = W_t - min(-S_0, min_{k <= t} W_k)`` with ``W`` the partial sums of the
increments, so a block is one ``cumsum`` and one ``minimum.accumulate`` over a (runs x steps) array. Runs that
alarmed leave; blocks grow as runs leave, so the cost is about (total exchanges simulated) numpy operations.

What is measured (both on the integer detector ``_sequential.py`` runs and computes):
* ARL0: exchanges to the first false alarm, in control (rate p0) from 0; the mean over runs, with its standard
  error. Cost grows with runs x ARL0, so about ``max_arl0_exchanges`` exchanges at most are simulated (fewer runs
  for a large target; ``arl0_runs`` says how many, and 0 with ``measured_arl0`` None when not even 10 runs fit).
* Delay: the rate is p0 for ``change_at`` exchanges, then p1; runs that alarm before the change are false alarms
  and are left out (counted in ``false_alarms_before_change``); the delay counts exchanges after the change up to
  and including the alarm. ``change_at = 0`` (default) is the zero-state delay, the worst case over change
  times; theory for either is exact (``conditional_delay``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ._sequential import (
    DEFAULT_RESOLUTION,
    METHOD,
    CusumScale,
    SequentialInputError,
    _arl_vector,
    _p_up,
    _threshold_steps,
    conditional_delay,
    cusum_scale,
    siegmund_arl,
)

if TYPE_CHECKING:
    import numpy as np

_BLOCK_CELLS = 1_000_000  # array cells per simulated block: about 8 MB of int64 per temporary


@dataclass(frozen=True, slots=True)
class CusumSimulation:
    """Measured vs theoretical run lengths of one CUSUM design; ``to_dict`` is the CLI's JSON."""

    base: float
    shifted: float
    target_arl0: float
    threshold: float  # nats
    threshold_steps: int
    up: int
    down: int
    reference_value: float  # the rounded one the detector uses
    reference_value_exact: float
    theoretical_arl0: float
    measured_arl0: float | None  # None when the target is too large to simulate (arl0_runs 0)
    measured_arl0_se: float | None
    arl0_runs: int
    theoretical_delay: float
    measured_delay: float
    measured_delay_se: float
    measured_delay_ci: tuple[float, float]
    delay_gap: float  # (measured - theoretical) / theoretical
    siegmund_arl0: float
    siegmund_delay: float
    runs: int
    change_at: int
    false_alarms_before_change: int
    seed: int
    method: str

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["measured_delay_ci"] = list(self.measured_delay_ci)
        return d


def _first_alarms(scale: CusumScale, threshold: int, p_true: float, start: np.ndarray, rng: np.random.Generator,
                  limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Steps to the first alarm (>= 1) of each run from the integer states ``start`` at rate ``p_true``; ``-1``
    for runs with no alarm within ``limit`` steps, whose state after ``limit`` steps is in the second array."""
    import numpy as np

    p = _p_up(scale, p_true)
    times = np.full(start.shape[0], -1, dtype=np.int64)
    states = start.astype(np.int64).copy()
    active = np.flatnonzero(states < threshold)
    times[states >= threshold] = 0
    done = 0
    while active.size and (limit is None or done < limit):
        width = max(64, _BLOCK_CELLS // active.size)
        if limit is not None:
            width = min(width, limit - done)
        hits = rng.random((active.size, width)) < p
        walk = np.cumsum(np.where(hits, scale.up, -scale.down), axis=1)
        lows = np.minimum(np.minimum.accumulate(walk, axis=1), -states[active][:, None])
        stat = walk - lows
        over = stat >= threshold
        alarmed = over.any(axis=1)
        first = over.argmax(axis=1)
        times[active[alarmed]] = done + first[alarmed] + 1
        states[active[~alarmed]] = stat[~alarmed, -1]
        active = active[~alarmed]
        done += width
    return times, states


def _mean_se(values: np.ndarray) -> tuple[float, float]:
    n = values.size
    mean = float(values.mean()) if n else math.nan
    se = float(values.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    return mean, se


def simulate(p0: float, p1: float, arl0: float, *, runs: int = 2000, change_at: int = 0, seed: int = 0,
             resolution: int = DEFAULT_RESOLUTION, max_arl0_exchanges: int = 50_000_000) -> CusumSimulation:
    """Design the CUSUM for ``p0 -> p1`` at one false alarm per ``arl0`` exchanges, then measure its ARL0 and its
    detection delay on ``runs`` simulated streams each, next to the exact and Siegmund's values.

    ``twofaced monitor simulate`` calls this. Deterministic for a given ``seed``.
    """
    import numpy as np

    if not (isinstance(runs, int) and 10 <= runs <= 1_000_000):
        raise SequentialInputError(f"runs must be a whole number from 10 to 1,000,000, got {runs}")
    if not (isinstance(change_at, int) and change_at >= 0):
        raise SequentialInputError(f"change_at must be a whole number of exchanges >= 0, got {change_at}")
    if not (math.isfinite(arl0) and arl0 >= 10):
        raise SequentialInputError(f"the target in-control ARL (exchanges per false alarm) must be at least 10, "
                                   f"got {arl0}")
    scale = cusum_scale(p0, p1, resolution)
    threshold = _threshold_steps(scale, arl0)
    h = threshold * scale.unit
    theory_arl0 = float(_arl_vector(scale, threshold, p0)[0])
    theory_delay = conditional_delay(p0, p1, h, change_at, resolution=resolution)
    rng = np.random.default_rng(seed)

    arl0_runs = min(runs, int(max_arl0_exchanges // theory_arl0))
    arl0_mean: float | None = None
    arl0_se: float | None = None
    if arl0_runs >= 10:
        in_control, _ = _first_alarms(scale, threshold, p0, np.zeros(arl0_runs, dtype=np.int64), rng)
        arl0_mean, arl0_se = _mean_se(in_control.astype(float))
    else:
        arl0_runs = 0

    start = np.zeros(runs, dtype=np.int64)
    false_alarms = 0
    if change_at:
        before, start = _first_alarms(scale, threshold, p0, start, rng, limit=change_at)
        survived = before < 0
        false_alarms = int((~survived).sum())
        start = start[survived]
    delays, _ = _first_alarms(scale, threshold, p1, start, rng)
    delay_mean, delay_se = _mean_se(delays.astype(float))
    ci = (delay_mean - 1.96 * delay_se, delay_mean + 1.96 * delay_se)
    return CusumSimulation(
        base=p0, shifted=p1, target_arl0=arl0, threshold=h, threshold_steps=threshold, up=scale.up,
        down=scale.down, reference_value=scale.reference_value, reference_value_exact=scale.gamma,
        theoretical_arl0=theory_arl0, measured_arl0=arl0_mean, measured_arl0_se=arl0_se, arl0_runs=arl0_runs,
        theoretical_delay=theory_delay, measured_delay=delay_mean, measured_delay_se=delay_se,
        measured_delay_ci=ci, delay_gap=(delay_mean - theory_delay) / theory_delay,
        siegmund_arl0=siegmund_arl(p0, p1, h, p0), siegmund_delay=siegmund_arl(p0, p1, h, p1), runs=runs,
        change_at=change_at, false_alarms_before_change=false_alarms, seed=seed,
        method=METHOD.format(m=resolution))
