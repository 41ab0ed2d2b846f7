"""``twofaced monitor simulate``: the detector's false-alarm rate and delay, measured on simulated streams next to
the exact theory (:func:`twofaced.stats.simulate`). The live monitor (``monitor serve``) is not built yet."""

from __future__ import annotations

import json
import math
from typing import Annotated

import typer

from ..errors import ConfigError
from ..stats import simulate
from ._app import app, out
from ._options import JsonFlag

monitor_app = typer.Typer(help="Watch a deployed model against its baseline (detectors; the proxy is not built yet).",
                          no_args_is_help=True)
app.add_typer(monitor_app, name="monitor")


def _check_inputs(base: float, shifted: float, every: float, runs: int, change_at: int) -> None:
    """One-line errors naming the flag (typer's own range checks print a usage block instead)."""
    for flag, value in (("--base", base), ("--shifted", shifted)):
        if not (math.isfinite(value) and 0 < value < 1):
            hint = f" (write {value / 100:g} for {value:g}%)" if 1 <= value < 100 else ""
            raise ConfigError(f"{flag} must be a rate strictly between 0 and 1, got {value:g}{hint}")
    if base == shifted:
        raise ConfigError(f"--shifted must differ from --base (both {base:g}): give the changed rate worth detecting")
    if not (math.isfinite(every) and every >= 10):
        raise ConfigError(f"--false-alarm-every must be at least 10 exchanges, got {every:g}")
    if not 10 <= runs <= 1_000_000:
        raise ConfigError(f"--runs must be from 10 to 1,000,000, got {runs}")
    if change_at < 0:
        raise ConfigError(f"--change-at must be 0 or more exchanges, got {change_at}")


@monitor_app.command("simulate")
def simulate_cmd(
    base: Annotated[float, typer.Option("--base", metavar="P0", help="In-control rate (the baseline's), in (0, 1).")],
    shifted: Annotated[float, typer.Option("--shifted", metavar="P1", help="Changed rate worth detecting, in (0, 1); "
                                           "below --base for a drop.")],
    every: Annotated[float, typer.Option("--false-alarm-every", metavar="N", help="Target in-control average run "
                                         "length: at most one false alarm per N exchanges (N >= 10).")],
    runs: Annotated[int, typer.Option("--runs", help="Simulated streams per measurement.")] = 2000,
    change_at: Annotated[int, typer.Option("--change-at", help="In-control exchanges before the change "
                                           "(0: zero-state delay, the worst case).")] = 0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulation.")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Mean detection delay and false-alarm rate of the Bernoulli CUSUM on simulated streams, next to theory."""
    _check_inputs(base, shifted, every, runs, change_at)
    result = simulate(base, shifted, every, runs=runs, change_at=change_at, seed=seed)
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
        return
    lo, hi = result.measured_delay_ci
    out.print(f"CUSUM {base:g} -> {shifted:g}, threshold {result.threshold:.3f} nats ({result.threshold_steps} steps)")
    measured = ("not simulated (too many exchanges)" if result.measured_arl0 is None or result.measured_arl0_se is None
                else f"{result.measured_arl0:,.0f} ± {result.measured_arl0_se:,.0f} over {result.arl0_runs} runs")
    out.print(f"exchanges per false alarm: theory {result.theoretical_arl0:,.0f} (target {every:,.0f}), measured "
              f"{measured}")
    out.print(f"delay after the change: theory {result.theoretical_delay:.1f}, measured {result.measured_delay:.1f} "
              f"[{lo:.1f}, {hi:.1f}] over {result.runs - result.false_alarms_before_change} runs "
              f"({100 * result.delay_gap:+.1f}%); Siegmund's approximation {result.siegmund_delay:.1f}")
