"""Sequential detection: the Bernoulli CUSUM's exact run lengths, its threshold from a target false-alarm rate,
measured delay and false-alarm rate on simulated streams against theory, the always-valid confidence sequence,
detector state through to_dict / from_dict, and ``twofaced monitor simulate``."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from helpers import cli
from twofaced.errors import ConfigError
from twofaced.stats import (
    BernoulliCusum,
    arl,
    conditional_delay,
    confidence_sequence,
    mixture_log_martingale,
    siegmund_arl,
    simulate,
    threshold_for_arl,
    wilson,
)
from twofaced.stats._sequential import cusum_scale, detectors_from_dict, detectors_to_dict, track

# ---- exact run lengths --------------------------------------------------------------------------------------------


def _dense_arl(up: int, down: int, threshold: int, p: float) -> float:
    """The same Markov chain, written independently: a dense (I - Q) L = 1."""
    q = np.zeros((threshold, threshold))
    for s in range(threshold):
        if s + up < threshold:
            q[s, s + up] += p
        q[s, max(0, s - down)] += 1 - p
    return float(np.linalg.solve(np.eye(threshold) - q, np.ones(threshold))[0])


def test_arl_matches_an_independent_dense_solve_and_a_closed_form() -> None:
    scale = cusum_scale(0.3, 0.4, resolution=10)
    for steps in (1, 5, 17, 60):
        h = steps * scale.unit
        for p in (0.3, 0.4, 0.55):
            assert arl(0.3, 0.4, h, p, resolution=10) == pytest.approx(_dense_arl(scale.up, scale.down, steps, p),
                                                                       rel=1e-9)
    # Threshold at one success: alarm at the first success, a geometric run length with mean 1 / p.
    assert arl(0.3, 0.4, scale.unit, 0.3, resolution=10) == pytest.approx(1 / 0.3)


def test_threshold_is_the_smallest_that_meets_the_target() -> None:
    designs = ((0.1, 0.2, 500), (0.1, 0.2, 10_000), (0.3, 0.4, 1000), (0.2, 0.1, 2000), (0.02, 0.12, 10_000))
    for p0, p1, target in designs:
        h = threshold_for_arl(p0, p1, target)
        unit = cusum_scale(p0, p1).unit
        assert arl(p0, p1, h, p0) >= target > arl(p0, p1, h - unit, p0)
        assert arl(p0, p1, h, p0) <= 1.03 * target  # one step of the integer chain above the target
        assert arl(p0, p1, h, p1) < target / 5  # and it detects the change far sooner


def test_a_drop_is_the_rise_of_the_complement() -> None:
    h = threshold_for_arl(0.2, 0.1, 1000)
    assert threshold_for_arl(0.8, 0.9, 1000) == pytest.approx(h)
    for p in (0.2, 0.1, 0.15):
        assert arl(0.2, 0.1, h, p) == pytest.approx(arl(0.8, 0.9, h, 1 - p))


def test_siegmund_approximates_the_delay_but_not_the_rare_false_alarm() -> None:
    h = threshold_for_arl(0.1, 0.2, 10_000)
    assert siegmund_arl(0.1, 0.2, h, 0.2) == pytest.approx(arl(0.1, 0.2, h, 0.2), rel=0.05)
    # The normal approximation of skewed increments is far off in the tail: why the threshold uses the exact chain.
    assert siegmund_arl(0.1, 0.2, h, 0.1) > 2 * arl(0.1, 0.2, h, 0.1)


def test_conditional_delay_is_below_the_zero_state_delay() -> None:
    h = threshold_for_arl(0.1, 0.2, 1000)
    zero = arl(0.1, 0.2, h, 0.2)
    assert conditional_delay(0.1, 0.2, h, 0) == pytest.approx(zero)
    later = conditional_delay(0.1, 0.2, h, 300)
    assert 0.8 * zero < later < zero


# ---- measured on simulated streams --------------------------------------------------------------------------------


def test_measured_false_alarm_rate_matches_the_target() -> None:
    sim = simulate(0.1, 0.2, 500, runs=2000, seed=1)
    assert sim.arl0_runs == 2000
    assert 500 <= sim.theoretical_arl0 <= 515
    # Run lengths are roughly geometric (sd about the mean): 4 standard errors is about 9% here.
    assert abs(sim.measured_arl0 - sim.theoretical_arl0) < 4 * sim.measured_arl0_se
    assert abs(sim.measured_arl0 / sim.theoretical_arl0 - 1) < 0.10


def test_delay_within_10_percent_of_theory_at_one_false_alarm_per_10000() -> None:
    # The target: compliance steps by 10 points, at most one false alarm per 10,000 exchanges.
    sim = simulate(0.1, 0.2, 10_000, runs=2000, seed=2, max_arl0_exchanges=2_000_000)
    assert sim.theoretical_arl0 >= 10_000
    assert sim.theoretical_delay == pytest.approx(111.4, abs=0.1)
    assert abs(sim.delay_gap) < 0.10
    assert abs(sim.measured_delay - sim.theoretical_delay) < 4 * sim.measured_delay_se
    lo, hi = sim.measured_delay_ci
    assert lo < sim.measured_delay < hi


def test_delay_after_a_later_change_matches_the_conditional_theory() -> None:
    sim = simulate(0.1, 0.2, 500, runs=4000, change_at=200, seed=3)
    assert 0 < sim.false_alarms_before_change < 4000 * 0.6
    assert abs(sim.measured_delay - sim.theoretical_delay) < 4 * sim.measured_delay_se
    assert sim.theoretical_delay < arl(0.1, 0.2, sim.threshold, 0.2)


def test_simulation_of_a_drop() -> None:
    sim = simulate(0.3, 0.2, 1000, runs=2000, seed=4)
    assert abs(sim.measured_delay - sim.theoretical_delay) < 4 * sim.measured_delay_se
    assert abs(sim.measured_arl0 - sim.theoretical_arl0) < 4 * sim.measured_arl0_se


def test_a_target_too_large_to_simulate_reports_theory_only() -> None:
    sim = simulate(0.1, 0.2, 1e8, runs=100, seed=5)
    assert sim.arl0_runs == 0 and sim.measured_arl0 is None and sim.theoretical_arl0 >= 1e8
    assert abs(sim.measured_delay - sim.theoretical_delay) < 4 * sim.measured_delay_se
    assert json.loads(json.dumps(sim.to_dict()))["measured_arl0"] is None
    with pytest.raises(ConfigError, match="states at this target"):
        threshold_for_arl(0.1, 0.2, 1e300)


def test_simulation_is_deterministic_for_a_seed() -> None:
    assert simulate(0.1, 0.3, 200, runs=50, seed=7) == simulate(0.1, 0.3, 200, runs=50, seed=7)


# ---- the detector -------------------------------------------------------------------------------------------------


def test_detector_follows_the_log_likelihood_ratio_recursion() -> None:
    c = BernoulliCusum.for_arl(0.1, 0.2, 1000)
    scale = cusum_scale(0.1, 0.2)
    rng = np.random.default_rng(0)
    xs = (rng.random(3000) < 0.13).astype(int)
    real = 0.0
    first_alarm = None
    for t, x in enumerate(xs, 1):
        alarm = c.update(int(x))
        real = max(0.0, real + (math.log(2) if x else math.log(0.8 / 0.9)))
        # the rounded reference value moves the statistic by under a percent of its scale
        assert c.statistic == pytest.approx(real, abs=0.01 * max(1.0, real) + 0.01)
        if alarm and first_alarm is None:
            first_alarm = t
    # The simulation's closed form (Lindley) gives the same statistic as the step-by-step update.
    walk = np.cumsum(np.where(xs == 1, scale.up, -scale.down))
    lindley = walk - np.minimum(np.minimum.accumulate(walk), 0)
    assert int(lindley[-1]) == c.steps
    over = np.flatnonzero(lindley >= c.threshold_steps)
    assert (first_alarm is None and over.size == 0) or first_alarm == over[0] + 1
    assert c.n == 3000


def test_alarm_holds_until_reset() -> None:
    c = BernoulliCusum(0.1, 0.5, 2.0)  # a success adds log 5 = 1.61 nats, a failure takes log(0.9 / 0.5) = 0.59
    assert c.update(1) is False
    assert c.update(1) is True and c.alarms == 1
    assert c.update(0) is True and c.alarms == 1  # still above the threshold: one alarm, not two
    c.reset()
    assert c.alarm is False and c.statistic == 0 and c.n == 3


def test_drop_detector_counts_zeros() -> None:
    c = BernoulliCusum.for_arl(0.5, 0.2, 100)
    assert c.update(1) is False and c.steps == 0
    c.update(0)
    assert c.statistic == pytest.approx(math.log(0.8 / 0.5), rel=0.01)


def test_state_survives_a_restart() -> None:
    c = BernoulliCusum.for_arl(0.1, 0.2, 1000)
    rng = np.random.default_rng(1)
    for x in rng.random(200) < 0.2:
        c.update(int(x))
    stored = json.dumps(c.to_dict())
    restored = BernoulliCusum.from_dict(json.loads(stored))
    assert restored == c
    for x in rng.random(200) < 0.2:
        assert restored.update(int(x)) == c.update(int(x))
        assert restored.steps == c.steps
    assert restored.to_dict() == c.to_dict()


def test_bad_state_and_design_are_one_line_config_errors() -> None:
    good = BernoulliCusum(0.1, 0.2, 3.0).to_dict()
    with pytest.raises(ConfigError, match="version 1"):
        BernoulliCusum.from_dict({**good, "version": 99})
    with pytest.raises(ConfigError, match="malformed"):
        BernoulliCusum.from_dict({k: v for k, v in good.items() if k != "steps"})
    with pytest.raises(ConfigError, match=r"write 0\.1 for 10%"):
        BernoulliCusum(10, 0.2, 3.0)
    with pytest.raises(ConfigError, match="must differ"):
        threshold_for_arl(0.1, 0.1, 1000)
    with pytest.raises(ConfigError, match="at least 10"):
        threshold_for_arl(0.1, 0.2, 5)
    with pytest.raises(ValueError, match="0 or 1"):
        BernoulliCusum(0.1, 0.2, 3.0).update(2)


# ---- the confidence sequence --------------------------------------------------------------------------------------


def test_confidence_sequence_endpoints_are_on_the_boundary() -> None:
    for s, n in ((3, 10), (100, 1000), (0, 50), (50, 50), (1, 2)):
        ci = confidence_sequence(s, n, 0.05)
        assert ci.low <= s / n <= ci.high
        for edge, inside in ((ci.low, ci.low + 1e-6), (ci.high, ci.high - 1e-6)):
            if 0 < edge < 1:
                assert mixture_log_martingale(s, n, edge) == pytest.approx(math.log(20), abs=1e-6)
                assert mixture_log_martingale(s, n, inside) < math.log(20)
    assert confidence_sequence(0, 50).low == 0.0 and confidence_sequence(50, 50).high == 1.0
    assert math.isnan(confidence_sequence(0, 0).estimate)


def test_confidence_sequence_is_wider_than_a_fixed_n_interval_and_shrinks() -> None:
    widths = []
    for n in (100, 1000, 10_000):
        cs, w = confidence_sequence(n // 10, n), wilson(n // 10, n)
        assert cs.low < w.low and cs.high > w.high
        widths.append(cs.high - cs.low)
    assert widths[0] > widths[1] > widths[2]


@pytest.mark.parametrize("p", [0.05, 0.3])
def test_confidence_sequence_covers_uniformly_over_time(p: float) -> None:
    # 2,000 streams of 2,000 exchanges: the share of streams whose sequence EVER misses p is at most alpha.
    alpha, streams, steps = 0.05, 2000, 2000
    rng = np.random.default_rng(11)
    successes = np.cumsum(rng.random((streams, steps)) < p, axis=1)
    n = np.arange(1, steps + 1)
    ever_missed = (mixture_log_martingale(successes, n, p) >= math.log(1 / alpha)).any(axis=1)
    assert ever_missed.mean() <= alpha + 0.01
    # The fixed-n Wilson interval, looked at after every exchange, misses far more often: why the monitor needs this.
    z = 1.959964
    phat = successes / n
    centre = (phat + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert (np.abs(centre - p) > half).any(axis=1).mean() > 3 * alpha


def test_confidence_sequence_refuses_bad_counts() -> None:
    with pytest.raises(ValueError, match="successes <= n"):
        confidence_sequence(5, 3)
    with pytest.raises(ValueError, match="alpha"):
        confidence_sequence(1, 3, alpha=1.5)


# ---- twofaced monitor simulate ------------------------------------------------------------------------------------


def test_track_keeps_each_detectors_excursion_and_reports_entries_into_alarm() -> None:
    detectors = {"up": BernoulliCusum(0.1, 0.5, 3.0), "down": BernoulliCusum(0.5, 0.1, 3.0)}  # log 5 nats a success
    excursions: dict[str, list[dict[str, object]]] = {"up": [], "down": []}
    fired = [track(detectors, excursions, {"up": 1, "down": 1}, {"id": i}, limit=2) for i in range(3)]
    assert fired == [[], ["up"], []]  # only the update that crosses the threshold
    assert [e["id"] for e in excursions["up"]] == [1, 2]  # the newest `limit` steps, oldest first
    assert excursions["up"][-1] == {"id": 2, "x": 1, "statistic": detectors["up"].statistic}
    assert excursions["down"] == []  # its statistic never left 0
    assert track(detectors, excursions, {"up": 1, "down": 1}, {"id": 3}, limit=2) == []  # alarm already on
    while detectors["up"].steps:
        track(detectors, excursions, {"up": 0, "down": 0}, {"id": -1}, limit=2)
    assert excursions["up"] == []  # back at 0: the excursion is over


def test_named_detectors_round_trip_through_a_dict_and_refuse_a_missing_one() -> None:
    detectors = {"drop": BernoulliCusum.for_arl(0.3, 0.2, 500), "rise": BernoulliCusum.for_arl(0.3, 0.4, 500)}
    excursions: dict[str, list[dict[str, object]]] = {"drop": [], "rise": []}
    track(detectors, excursions, {"drop": 0, "rise": 1}, {"exchange_id": "e1"}, limit=10)
    state = json.loads(json.dumps(detectors_to_dict(detectors, excursions)))
    again, trails = detectors_from_dict(state, ["drop", "rise"])
    assert again == detectors and trails == excursions and set(state) == {"detectors", "excursions"}
    assert detectors_from_dict({"detectors": state["detectors"]}, ["rise"])[1] == {"rise": []}
    with pytest.raises(ConfigError, match="no detector 'drop'"):
        detectors_from_dict({"detectors": {"rise": state["detectors"]["rise"]}}, ["drop"])


def test_monitor_simulate_json() -> None:
    proc = subprocess.run([sys.executable, "-m", "twofaced.cli", "monitor", "simulate", "--base", "0.1", "--shifted",
                           "0.2", "--false-alarm-every", "10000", "--runs", "500", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    for key in ("threshold", "theoretical_arl0", "measured_arl0", "theoretical_delay", "measured_delay",
                "measured_delay_se", "measured_delay_ci", "runs", "method"):
        assert key in data
    assert data["runs"] == 500 and data["theoretical_arl0"] >= 10_000
    assert abs(data["measured_delay"] / data["theoretical_delay"] - 1) < 0.10
    assert "Markov chain" in data["method"]


def test_monitor_simulate_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "monitor", "simulate", "--base", "0.3", "--shifted", "0.2", "--false-alarm-every",
                         "200", "--runs", "100")
    assert code == 0, err
    assert "per false alarm" in out and "delay after the change" in out


@pytest.mark.parametrize(("args", "message"), [
    (["--base", "10", "--shifted", "0.2", "--false-alarm-every", "1000"],
     "error: --base must be a rate strictly between 0 and 1, got 10 (write 0.1 for 10%)"),
    (["--base", "0.1", "--shifted", "1", "--false-alarm-every", "1000"],
     "error: --shifted must be a rate strictly between 0 and 1, got 1 (write 0.01 for 1%)"),
    (["--base", "0.1", "--shifted", "0.1", "--false-alarm-every", "1000"],
     "error: --shifted must differ from --base (both 0.1): give the changed rate worth detecting"),
    (["--base", "0.1", "--shifted", "0.2", "--false-alarm-every", "5"],
     "error: --false-alarm-every must be at least 10 exchanges, got 5"),
    (["--base", "0.1", "--shifted", "0.2", "--false-alarm-every", "100", "--runs", "3"],
     "error: --runs must be from 10 to 1,000,000, got 3"),
])
def test_monitor_simulate_bad_input_is_one_line_exit_2(capsys: pytest.CaptureFixture[str], args: list[str],
                                                       message: str) -> None:
    code, out, err = cli(capsys, "monitor", "simulate", *args)
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [message]
