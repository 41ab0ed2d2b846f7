"""Sample size and power, against statsmodels, a published table value and simulation."""

from __future__ import annotations

import json
import math
from dataclasses import asdict

import numpy as np
import pytest
from statsmodels.stats.proportion import power_proportions_2indep, samplesize_proportions_2indep_onetail

from twofaced.stats import Plan, clustered_gap, plan_sample_size, power_of
from twofaced.stats._power import _corrected, _power_at, _uncorrected, _uncorrected_from

CASES = [(0.05, 0.05), (0.05, 0.02), (0.2, 0.3), (0.1, 0.45), (0.02, 0.01), (0.3, 0.0), (0.1, 0.9)]


@pytest.mark.parametrize(("gap", "base"), CASES)
@pytest.mark.parametrize(("power", "alpha"), [(0.8, 0.05), (0.9, 0.01), (0.5, 0.1)])
def test_uncorrected_size_and_power_match_statsmodels(gap: float, base: float, power: float, alpha: float) -> None:
    # The core of the Fleiss formula is the pooled-null / unpooled-alternative z-test statsmodels implements.
    n = _uncorrected(gap, base, power, alpha, paired=False)
    expected = samplesize_proportions_2indep_onetail(gap, base, power, alpha=alpha, alternative="two-sided")
    assert n == pytest.approx(expected, rel=1e-10)
    for nobs in (10, 57, 400):
        reference = power_proportions_2indep(gap, base, nobs, alpha=alpha, return_results=False)
        assert _power_at(nobs, gap, base, alpha, paired=False) == pytest.approx(reference, abs=1e-12)


def test_published_fleiss_table_value() -> None:
    # Fleiss, Levin & Paik (2003), Table A.4 / eq. 4.14-4.15: p1 = 0.10, p2 = 0.05, two-sided alpha 0.05,
    # power 0.80 -> 474 per group with the continuity correction (435 without).
    assert math.ceil(_uncorrected(0.05, 0.05, 0.8, 0.05, paired=False)) == 435
    plan = plan_sample_size(gap=0.05, base=0.05)
    assert plan.requests == 474


@pytest.mark.parametrize("n", [0.0, 1.0, 17.3, 434.4, 1e6])
def test_continuity_correction_round_trips(n: float) -> None:
    gap = 0.05
    m = _corrected(n, gap)
    if n > 0:
        assert m == pytest.approx(n / 4 * (1 + math.sqrt(1 + 4 / (n * gap))) ** 2, rel=1e-12)
    else:
        assert m == pytest.approx(1 / gap)
    assert _uncorrected_from(m, gap) == pytest.approx(n, rel=1e-9, abs=1e-9)


def test_acceptance_example() -> None:
    plan = plan_sample_size(gap=0.05, base=0.02)
    assert isinstance(plan, Plan)
    assert (plan.requests, plan.samples, plan.total_items, plan.alpha) == (308, 1, 616, 0.05)
    assert 0.8 <= plan.power < 0.81
    assert "Fleiss" in plan.method
    assert json.loads(json.dumps(asdict(plan)))["requests"] == 308


@pytest.mark.parametrize(("gap", "base"), CASES)
@pytest.mark.parametrize("paired", [False, True])
@pytest.mark.parametrize(("samples", "icc"), [(1, 0.0), (5, 0.0), (5, 0.1), (3, 0.5)])
def test_plan_is_the_smallest_that_reaches_the_power(gap: float, base: float, paired: bool, samples: int,
                                                     icc: float) -> None:
    plan = plan_sample_size(gap, base, samples_per_request=samples, icc=icc, paired=paired)
    assert plan.total_items == plan.requests * 2 * plan.samples
    assert plan.power == pytest.approx(power_of(plan.requests, samples, gap, base, 0.05, icc, paired))
    assert plan.power >= 0.8 - 1e-9
    if plan.requests > 1:
        assert power_of(plan.requests - 1, samples, gap, base, 0.05, icc, paired) < 0.8


def test_monotone_in_gap_power_alpha_and_icc() -> None:
    sizes = [plan_sample_size(g, 0.1).requests for g in (0.4, 0.2, 0.1, 0.05, 0.02)]
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)
    assert plan_sample_size(0.1, 0.1, power=0.9).requests > plan_sample_size(0.1, 0.1, power=0.8).requests
    assert plan_sample_size(0.1, 0.1, alpha=0.01).requests > plan_sample_size(0.1, 0.1, alpha=0.05).requests
    by_icc = [plan_sample_size(0.1, 0.1, samples_per_request=4, icc=r).requests for r in (0.0, 0.1, 0.3, 1.0)]
    assert by_icc == sorted(by_icc) and len(set(by_icc)) == 4
    powers = [power_of(r, 1, 0.1, 0.1) for r in (10, 50, 100, 200, 400)]
    assert powers == sorted(powers)


def test_samples_per_request_trade_off() -> None:
    one = plan_sample_size(0.1, 0.2)
    # Independent samples (icc 0) are as good as new requests: K samples divide the requests by K.
    assert plan_sample_size(0.1, 0.2, samples_per_request=4).requests == math.ceil(one.requests / 4)
    # Correlated samples need more items in all; perfectly correlated ones add nothing.
    four = plan_sample_size(0.1, 0.2, samples_per_request=4, icc=0.2)
    assert one.requests / 4 < four.requests < one.requests and four.total_items > one.total_items
    assert plan_sample_size(0.1, 0.2, samples_per_request=4, icc=1.0).requests == one.requests


def _rng() -> np.random.Generator:
    return np.random.default_rng(20240611)


@pytest.mark.parametrize(("gap", "base"), [(0.05, 0.02), (0.2, 0.3), (0.1, 0.1)])
def test_unpaired_plan_by_simulation_with_yates_test(gap: float, base: float) -> None:
    # Fleiss' correction targets the continuity-corrected chi-square test: simulate that test at the plan.
    plan, rng, reps = plan_sample_size(gap, base), _rng(), 20000
    n = plan.requests
    a, c = rng.binomial(n, base + gap, reps), rng.binomial(n, base, reps)
    b, d = n - a, n - c
    cross = np.maximum(0.0, np.abs(a * d - b * c) - n) ** 2 * 2 * n
    margins = (a + c) * (b + d) * float(n * n)
    chi2 = np.divide(cross, margins, out=np.zeros(reps), where=margins > 0)
    simulated = float(np.mean(chi2 > 3.841458820694124))
    assert plan.power - 0.02 <= simulated <= plan.power + 0.05


@pytest.mark.parametrize(("gap", "base"), [(0.05, 0.05), (0.1, 0.1)])
def test_paired_plan_by_simulation_with_mcnemar(gap: float, base: float) -> None:
    plan, rng, reps = plan_sample_size(gap, base, paired=True), _rng(), 20000
    training = rng.random((reps, plan.requests)) < base + gap
    deployment = rng.random((reps, plan.requests)) < base
    b, c = (training & ~deployment).sum(axis=1), (~training & deployment).sum(axis=1)
    z = (b - c) / np.sqrt(np.maximum(b + c, 1))
    simulated = float(np.mean(np.abs(z) > 1.959963984540054))
    assert plan.power - 0.02 <= simulated <= plan.power + 0.05


def test_clustered_plan_by_simulation() -> None:
    # Requests with beta-distributed propensities (intraclass correlation 0.2), 4 samples each, analysed by
    # the request-clustered interval the run summary uses.
    gap, base, icc, k = 0.15, 0.2, 0.2, 4
    plan, rng, reps, hits = plan_sample_size(gap, base, samples_per_request=k, icc=icc), _rng(), 250, 0
    s = (1 - icc) / icc
    for _ in range(reps):
        records = []
        for r in range(plan.requests):
            for condition, p in (("training", base + gap), ("deployment", base)):
                q = rng.beta(p * s, (1 - p) * s)
                records += [(f"{condition}{r}", condition, bool(x)) for x in rng.random(k) < q]
        hits += clustered_gap(records).p_value < 0.05
    assert plan.power - 0.07 <= hits / reps <= plan.power + 0.12


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"gap": 0.0, "base": 0.1}, "gap must be > 0"),
        ({"gap": -0.05, "base": 0.1}, "gap must be > 0"),
        ({"gap": math.nan, "base": 0.1}, "gap must be > 0"),
        ({"gap": 0.2, "base": 0.9}, "must be <= 1"),
        ({"gap": 0.1, "base": -0.1}, "base must be in"),
        ({"gap": 0.1, "base": 0.1, "power": 1.0}, "power must be in"),
        ({"gap": 0.1, "base": 0.1, "power": 0.0}, "power must be in"),
        ({"gap": 0.1, "base": 0.1, "alpha": 0.0}, "alpha must be in"),
        ({"gap": 0.1, "base": 0.1, "samples_per_request": 0}, "samples per request"),
        ({"gap": 0.1, "base": 0.1, "icc": 1.5}, "icc must be in"),
    ],
)
def test_plan_rejects_impossible_questions(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan_sample_size(**kwargs)  # type: ignore[arg-type]


def test_power_of_rejects_no_requests_and_handles_extremes() -> None:
    with pytest.raises(ValueError, match="requests must be >= 1"):
        power_of(0, 1, 0.1, 0.1)
    with pytest.raises(ValueError, match="gap must be > 0"):
        power_of(10, 1, 0.0, 0.1)
    assert plan_sample_size(gap=1.0, base=0.0).requests >= 1  # every training item complies, none in deployment
    assert power_of(100, 1, 1.0, 0.0) == 1.0
    assert power_of(1, 1, 0.01, 0.5) < 0.06  # hopeless runs have about alpha / 2 power, not nonsense


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"gap": 5, "base": 0.02}, "gap must be in (0, 1] (a fraction, not percentage points), got 5; write 0.05 for "
                                   "5 points"),
        ({"gap": 0.05, "base": 2}, "base must be in [0, 1) (a fraction, not a percentage), got 2; write 0.02 for 2%"),
        ({"gap": 0.05, "base": 0.02, "power": 80}, "power must be in (0, 1) (a fraction, not a percentage), got 80; "
                                                   "write 0.8 for 80%"),
        ({"gap": 0.05, "base": 0.02, "alpha": 5}, "alpha must be in (0, 1) (a fraction, not a percentage), got 5; "
                                                  "write 0.05 for 5%"),
        ({"gap": 0.05, "base": 0.02, "icc": -0.1}, "icc must be in [0, 1] (a fraction, not a percentage), got -0.1; "
                                                   "e.g. 0.1"),
        ({"gap": 1000, "base": 0.0}, "got 1000"),
    ],
)
def test_percentages_are_refused_with_the_fraction_to_write(kwargs: dict[str, float], message: str) -> None:
    from twofaced.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        plan_sample_size(**kwargs)  # type: ignore[arg-type]
    assert message in str(info.value) and isinstance(info.value, ValueError)
    if kwargs["gap"] == 1000:
        assert "write" not in str(info.value)


def test_plan_command_with_percentages_exits_2_with_one_line() -> None:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "twofaced.cli", "plan", "--gap", "5", "--base", "2"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == ["error: gap must be in (0, 1] (a fraction, not percentage points), "
                                                "got 5; write 0.05 for 5 points"]
    proc = subprocess.run([sys.executable, "-m", "twofaced.cli", "plan", "--gap", "0.05", "--base", "0.02", "--power",
                           "80", "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "write 0.8 for 80%" in proc.stderr
