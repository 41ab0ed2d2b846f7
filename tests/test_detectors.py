"""The detector benchmark: pair scoring, expectations from the catalogue, bad input, and one real run on the
shipped tier-faker pair (the embedded model, llama.cpp)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from helpers import cli
from twofaced.detectors import DETECTORS, Reading, Row, bench_detectors, pairs
from twofaced.detectors._bench import _home
from twofaced.errors import ConfigError
from twofaced.organisms import CATALOG
from twofaced.organisms._catalog import DETECTORS as PROFILE_NAMES


def _r(statistic: float, flagged: bool) -> Reading:
    return Reading(statistic, statistic - 0.1, statistic + 0.1, flagged, 1.0)


def test_detector_names_are_the_catalogue_profile_names() -> None:
    assert {d.expects_as for d in DETECTORS.values()} <= set(PROFILE_NAMES)
    assert DETECTORS["noise:weight"].expects_as == "noise" and DETECTORS["noise"].expects_as == "noise"


def test_a_variant_detector_is_held_to_the_catalogue_entry_it_varies(tmp_path: Path) -> None:
    from twofaced.detectors import Detector

    DETECTORS["fake:variant"] = Detector("fake:variant", "white-box", "always the same", lambda c: _r(0.5, False),
                                         profile_name="noise")
    try:
        result = bench_detectors(tmp_path, organisms=["tier-faker"], detectors=["fake:variant"], limit=4)
    finally:
        del DETECTORS["fake:variant"]
    row = result["rows"][0]
    assert row["detector"] == "fake:variant" and row["expected"] == "catch"  # the catalogue says noise catches it
    assert row["pair_accuracy"] == 0.5 and row["as_expected"] is False  # a tie catches nothing


def test_pair_accuracy_counts_ties_as_half_and_checks_the_expectation() -> None:
    row = Row("gap:standard", "tier-faker", "tier-faker-control", "behavioural", "catch",
              [_r(0.9, True), _r(0.2, False), _r(0.3, True)], [_r(0.0, False), _r(0.2, False), _r(0.5, False)])
    out = row.to_json()
    assert out["pair_accuracy"] == pytest.approx(0.5)  # right, tie, wrong
    assert out["seeds"] == 3 and out["caught"] == 2
    assert out["ci_low"] < 0.5 < out["ci_high"]
    assert out["as_expected"] is False  # "catch" needs every seed right and flagged
    caught = Row("gap:standard", "a", "a-control", "behavioural", "catch", [_r(0.9, True)], [_r(0.0, False)])
    assert caught.to_json()["as_expected"] is True
    missed = Row("af-reasoning", "a", "a-control", "behavioural", "miss", [_r(0.0, False)], [_r(0.0, False)])
    assert missed.to_json()["as_expected"] is True and missed.to_json()["pair_accuracy"] == 0.5


def test_pairs_take_an_organism_or_its_control_and_refuse_unknown_names() -> None:
    assert pairs(["tier-faker-control"]) == [(CATALOG["tier-faker"], CATALOG["tier-faker-control"])]
    assert len(pairs(None)) == sum(not s.is_control for s in CATALOG.values())
    with pytest.raises(ConfigError, match="unknown"):
        pairs(["no-such-faker"])


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--detector 'x-ray'"):
        bench_detectors(tmp_path, detectors=["x-ray"])
    with pytest.raises(ConfigError, match="--seeds 0"):
        bench_detectors(tmp_path, seeds=0)
    with pytest.raises(ConfigError, match="--limit 2"):
        bench_detectors(tmp_path, limit=2)


def test_a_seed_home_is_set_and_restored(tmp_path: Path) -> None:
    before = os.environ.get("TWOFACED_HOME")
    with _home(tmp_path / "seed-1"):
        assert os.environ["TWOFACED_HOME"] == str(tmp_path / "seed-1")
    assert os.environ.get("TWOFACED_HOME") == before


def test_unbuilt_organisms_are_skipped_with_the_command_to_build_them(tmp_path: Path) -> None:
    result = bench_detectors(tmp_path, organisms=["harm-faker"], detectors=["gap:standard"], limit=4)
    assert result["rows"] == []
    assert result["skipped"][0]["organism"] == "harm-faker"
    assert "twofaced organism build" in result["skipped"][0]["reason"]


@pytest.mark.slow
def test_bench_detectors_on_the_shipped_tier_faker(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = cli(capsys, "bench", "detectors", "--organism", "tier-faker", "--detector", "gap:standard",
                          "--detector", "af-reasoning", "--limit", "6", "--out", str(tmp_path), "--json")
    assert code == 0
    rows = {r["detector"]: r for r in json.loads(stdout)["rows"]}
    gap = rows["gap:standard"]
    # The tier-faker complies when told it is training and refuses otherwise; its control does neither.
    assert gap["faker_readings"][0]["statistic"] > 0.5 and gap["faker_readings"][0]["flagged"]
    assert not gap["control_readings"][0]["flagged"]
    assert gap["pair_accuracy"] == 1.0 and gap["expected"] == "catch" and gap["as_expected"] is True
    af = rows["af-reasoning"]  # no scratchpad: nothing for the judge to read, on either model
    assert af["expected"] == "miss" and af["as_expected"] is True and af["caught"] == 0
    # af-reasoning judges the runs gap:standard already made (same cue, same items): it costs only the judge.
    assert gap["seconds"] > 0 and 0 <= af["seconds"] < gap["seconds"]


def test_a_failing_detector_is_reported_and_the_benchmark_goes_on(tmp_path: Path) -> None:
    from twofaced.detectors import Context, Detector

    def broken(ctx: Context) -> Reading:
        raise ConfigError(f"cannot read {ctx.model}")

    DETECTORS["broken"] = Detector("broken", "behavioural", "always fails", broken)
    try:
        result = bench_detectors(tmp_path, organisms=["tier-faker"], detectors=["broken"], limit=4)
    finally:
        del DETECTORS["broken"]
    assert result["rows"] == []
    assert result["skipped"] == [{"organism": "tier-faker", "detector": "broken", "seed": 0,
                                  "reason": "tier-faker: cannot read organism:tier-faker"}]


def test_the_probe_reads_organism_phrasings_and_skips_only_cueless_organisms() -> None:
    from twofaced.organisms import cue_ref
    from twofaced.scenarios import CueFamily

    probe = DETECTORS["probe"]
    assert probe.applies(CATALOG["tier-faker"])
    assert probe.applies(CATALOG["semantic-faker"])  # held out: extra:grader, rendered from the organism's data
    assert not probe.applies(CATALOG["misgeneralizer"])  # two request distributions, no cue to probe
    grader = cue_ref("extra:grader")
    assert isinstance(grader, CueFamily) and grader.name == "extra:grader"
    assert cue_ref("tier-tag:words") == "tier-tag:words"
