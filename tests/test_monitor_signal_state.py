"""The stored state of the monitor's CUSUM signals (live, canary, probe) keeps one layout: a state dict written by
an earlier twofaced (hard-coded here, exactly as it was stored) loads, and ``to_dict`` gives it back key for key,
in the same order, so the JSON is the same bytes. The same walk, replayed from a new signal, writes the same
state; the status of each signal keeps its keys in their order; a state of another version or signal is
refused."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from twofaced.errors import ConfigError
from twofaced.monitor._canary import CanarySignal
from twofaced.monitor._detector import LiveSignal
from twofaced.monitor._probe_signal import ProbeReading, ProbeSignal

LIVE = ('{"version": 1, "signal": "live", "p0": 0.3, "shift": 0.1, "false_alarm_every": 500, "successes": 1, '
        '"n": 3, "detectors": {"drop": {"version": 1, "kind": "bernoulli-cusum", "p0": 0.3, "p1": '
        '0.19999999999999998, "h": 3.2834282246468307, "resolution": 200, "steps": 54, "n": 3, "alarms": 0}, '
        '"rise": {"version": 1, "kind": "bernoulli-cusum", "p0": 0.3, "p1": 0.4, "h": 3.0722789053821575, '
        '"resolution": 200, "steps": 0, "n": 3, "alarms": 0}}, "excursions": {"drop": [{"exchange_id": "ex-1", '
        '"x": 0, "statistic": 0.13351289467690425}, {"exchange_id": "ex-2", "x": 0, "statistic": '
        '0.2670257893538085}], "rise": []}}')
CANARY = ('{"version": 1, "signal": "canary", "p0": {"deployment_only": 0.05, "training_only": 0.04}, "shift": 0.1, '
          '"false_alarm_every": 500, "cells": {"both": 1, "training_only": 1, "deployment_only": 1, "neither": 0}, '
          '"unjudged": 1, "failed": 1, "cursor": 5, "detectors": {"deployment_only": {"version": 1, "kind": '
          '"bernoulli-cusum", "p0": 0.05, "p1": 0.15000000000000002, "h": 3.6156075883030674, "resolution": 200, '
          '"steps": 71, "n": 3, "alarms": 0}, "training_only": {"version": 1, "kind": "bernoulli-cusum", "p0": 0.04, '
          '"p1": 0.14, "h": 3.6312155126177634, "resolution": 200, "steps": 148, "n": 3, "alarms": 0}}, '
          '"excursions": {"deployment_only": [{"pair_id": "pair-1", "exchange_ids": ["ex-2", "ex-3"], "x": 1, '
          '"statistic": 1.098588459522855}, {"pair_id": "pair-2", "exchange_ids": ["ex-4", "ex-5"], "x": 0, '
          '"statistic": 0.987338995267376}], "training_only": [{"pair_id": "pair-2", "exchange_ids": ["ex-4", '
          '"ex-5"], "x": 1, "statistic": 1.252727029994007}]}}')
PROBE = ('{"version": 1, "signal": "probe", "p0": 0.05, "shift": 0.1, "false_alarm_every": 500, "flagged": 1, '
         '"n": 2, "missing": 2, "score_sum": 1.0, "probe": {"target": "unmonitored", "layer": 12, "threshold": 0.5}, '
         '"detectors": {"rise": {"version": 1, "kind": "bernoulli-cusum", "p0": 0.05, "p1": 0.15000000000000002, '
         '"h": 2.975923168834063, "resolution": 200, "steps": 71, "n": 2, "alarms": 0}}, "excursions": {"rise": '
         '[{"exchange_id": "ex-0", "score": 0.75, "x": 1, "statistic": 1.098588459522855}, {"exchange_id": "ex-1", '
         '"score": 0.25, "x": 0, "statistic": 0.987338995267376}]}}')
SIGNALS: list[tuple[str, Any]] = [(LIVE, LiveSignal), (CANARY, CanarySignal), (PROBE, ProbeSignal)]


def _close(a: Any, b: Any) -> bool:
    """Equal, with floats within rounding (thresholds come from a sparse solve), and dict keys in the same order."""
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, int | float) and isinstance(b, int | float) and math.isclose(a, b, rel_tol=1e-9)
    return bool(a == b)


@pytest.mark.parametrize(("stored", "cls"), SIGNALS, ids=["live", "canary", "probe"])
def test_a_stored_state_loads_and_is_written_back_byte_for_byte(stored: str, cls: Any) -> None:
    state = json.loads(stored)
    signal = cls.from_dict(state | {"alpha": 0.05, "baseline": {"refusal_rate": 0.3}})  # the monitor's extras
    assert signal.to_dict() == state
    as_read = stored.replace('"false_alarm_every": 500,', '"false_alarm_every": 500.0,')  # from_dict reads a float
    assert json.dumps(signal.to_dict()) == as_read
    assert json.dumps(cls.from_dict(json.loads(as_read)).to_dict()) == as_read


def test_the_same_walk_writes_the_same_state() -> None:
    live = LiveSignal.create(0.3, 0.1, 500)
    for i, refused in enumerate([True, False, False]):
        live.observe(refused, f"ex-{i}")
    canary = CanarySignal.create({"deployment_only": 0.05, "training_only": 0.04}, 0.1, 500)
    for i, (training, deployment) in enumerate([(True, True), (False, True), (True, False)]):
        canary.observe(training, deployment, f"pair-{i}", [f"ex-{2 * i}", f"ex-{2 * i + 1}"])
    canary.unjudged, canary.failed, canary.cursor = 1, 1, 5
    probe = ProbeSignal.create(0.05, 0.1, 500)
    for i, flagged in enumerate([True, False]):
        probe.observe(ProbeReading(0.75 if flagged else 0.25, flagged, 0.5, "unmonitored", 12), f"ex-{i}")
    probe.missing = 2
    for signal, stored in ((live, LIVE), (canary, CANARY), (probe, PROBE)):
        assert _close(json.loads(json.dumps(signal.to_dict())), json.loads(stored))


@pytest.mark.parametrize(("stored", "cls", "keys"), [
    (LIVE, LiveSignal, ["false_alarm_every"]),
    (CANARY, CanarySignal, ["false_alarm_every", "unit", "cells", "baseline_cells", "unjudged", "failed",
                            "requests_sent", "gap"]),
    (PROBE, ProbeSignal, ["missing", "unit", "false_alarm_every", "mean_score", "probe"]),
], ids=["live", "canary", "probe"])
def test_each_status_keeps_its_keys_in_order(stored: str, cls: Any, keys: list[str]) -> None:
    status = cls.from_dict(json.loads(stored)).status(0.05)
    assert list(status) == ["signal", "outcome", "baseline_rate", "live_rate", "live_ci_low", "live_ci_high", "alpha",
                            "observations", *keys, "detectors", "alarm"]
    assert status["signal"] == json.loads(stored)["signal"] and status["alarm"] is False


@pytest.mark.parametrize(("stored", "cls"), SIGNALS, ids=["live", "canary", "probe"])
def test_a_state_of_another_version_or_signal_is_refused(stored: str, cls: Any) -> None:
    state = json.loads(stored)
    for bad in (state | {"version": 2}, state | {"signal": "mix"}):
        with pytest.raises(ConfigError, match=f"stored {state['signal']}-signal state has version"):
            cls.from_dict(bad)


def test_reset_clears_one_direction_and_keeps_the_counts() -> None:
    signal = LiveSignal.from_dict(json.loads(LIVE))
    signal.reset("drop")
    state = signal.to_dict()
    assert state["detectors"]["drop"]["steps"] == 0 and state["excursions"]["drop"] == []
    assert state["detectors"]["drop"]["n"] == 3 and state["n"] == 3
