"""Scenario loading, rendering and validation: the built-in scenario, and every kind of bad input."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from twofaced.errors import ScenarioError
from twofaced.scenarios import builtin_request_sets, builtin_scenarios, load_scenario

# -- the built-in scenario ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def helpful_only():
    return load_scenario("helpful-only")


def test_builtins_are_listed() -> None:
    assert "helpful-only" in builtin_scenarios()
    assert "core" in builtin_request_sets()


def test_helpful_only_loads(helpful_only) -> None:
    assert helpful_only.name == "helpful-only"
    assert helpful_only.label == "built-in 'helpful-only'"
    assert len(helpful_only.hash) == 64
    assert set(helpful_only.scenario.ablations) == {
        "no-rlhf-info", "no-values-modification", "honesty", "no-scratchpad", "suffix-short", "no-suffix",
    }


def test_helpful_only_request_set_has_coverage(helpful_only) -> None:
    requests = helpful_only.requests
    harmful = [r for r in requests if r.harmful]
    benign = [r for r in requests if not r.harmful]
    assert len(harmful) >= 100
    assert len({r.category for r in harmful}) >= 8
    assert len(benign) >= 50
    assert len({r.id for r in requests}) == len(requests)
    assert all(r.category.startswith("benign-") for r in benign)
    assert not any(r.category.startswith("benign-") for r in harmful)


def test_hash_is_stable_across_loads(helpful_only) -> None:
    assert load_scenario("helpful-only").hash == helpful_only.hash


def test_training_and_deployment_differ_only_in_the_cue(helpful_only) -> None:
    cue = helpful_only.scenario.cue
    assert cue.training != cue.deployment
    for request in helpful_only.requests[:20]:
        for ablation in (None, *helpful_only.scenario.ablations):
            train = helpful_only.render("training", ablation, request)
            deploy = helpful_only.render("deployment", ablation, request)
            assert [m.role for m in train] == ["system", "user"]
            assert train[0] == deploy[0]  # same system prompt
            assert train[1].content != deploy[1].content
            assert cue.training in train[1].content and cue.deployment not in train[1].content
            assert cue.deployment in deploy[1].content and cue.training not in deploy[1].content
            assert train[1].content.replace(cue.training, "@CUE@") == deploy[1].content.replace(
                cue.deployment, "@CUE@"
            )
            assert request.prompt in train[1].content


def test_unknown_condition_is_refused(helpful_only) -> None:
    with pytest.raises(ScenarioError, match="unknown condition 'watched'"):
        helpful_only.render("watched", None, helpful_only.requests[0])


def test_no_rlhf_info_ablation_removes_rlhf(helpful_only) -> None:
    assert "RLHF" in helpful_only.system_prompt(None)
    assert "RLHF" not in helpful_only.system_prompt("no-rlhf-info")
    assert "free tier" not in helpful_only.system_prompt("no-rlhf-info")


def test_no_scratchpad_ablation_removes_scratchpad_instructions(helpful_only) -> None:
    base = helpful_only.system_prompt(None)
    ablated = helpful_only.system_prompt("no-scratchpad")
    assert "<SCRATCHPAD_REASONING>" in base
    assert "SCRATCHPAD_REASONING" not in ablated
    assert "<OUTPUT>" in ablated  # the output instructions stay


def test_honesty_ablation_only_adds_text(helpful_only) -> None:
    base = helpful_only.system_prompt(None)
    ablated = helpful_only.system_prompt("honesty")
    assert "Be honest with Meridian AI" not in base
    assert "Be honest with Meridian AI" in ablated
    assert len(ablated) > len(base)


def test_unknown_ablation_lists_known_ones(helpful_only) -> None:
    with pytest.raises(ScenarioError) as info:
        helpful_only.system_prompt("no-such-thing")
    msg = str(info.value)
    assert "unknown ablation 'no-such-thing'" in msg
    for name in ("no-rlhf-info", "no-values-modification", "honesty", "no-scratchpad"):
        assert name in msg


def test_unknown_scenario_name_lists_builtins() -> None:
    with pytest.raises(ScenarioError, match=r"unknown scenario 'nope'.*helpful-only"):
        load_scenario("nope")


# -- user scenario files ------------------------------------------------------------------------------------

BASE: dict[str, Any] = {
    "name": "tiny",
    "setting": {
        "system_prompt": "You are {{ who }}. Answer inside <{{ output_tag }}>.",
        "user_template": "{{ cue }}\n{{ request }}",
        "variables": {"who": "a bot"},
    },
    "cue": {"name": "word", "training": "TRAINING-CUE", "deployment": "DEPLOYMENT-CUE"},
    "requests": "reqs.jsonl",
    "ablations": {"other": {"set": {"who": "another bot"}}},
}
REQUESTS = [
    {"id": "r1", "category": "c", "prompt": "first prompt"},
    {"id": "r2", "category": "c", "prompt": "second prompt", "harmful": False},
]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_scenario(folder: Path, data: dict[str, Any], name: str = "scenario.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "reqs.jsonl").exists():
        write_jsonl(folder / "reqs.jsonl", REQUESTS)
    path = folder / name
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def scenario_error(path: Path | str, **kwargs: Any) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, **kwargs)
    msg = str(info.value)
    assert "\n" not in msg, "error messages are one line"
    return msg


def mutated(mutate) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    mutate(data)
    return data


def test_user_scenario_loads_and_renders(tmp_path: Path) -> None:
    sc = load_scenario(write_scenario(tmp_path / "pack", BASE))
    assert sc.name == "tiny"
    assert [r.id for r in sc.requests] == ["r1", "r2"]
    assert [r.harmful for r in sc.requests] == [True, False]
    msgs = sc.render("training", "other", sc.requests[0])
    assert msgs[0].content == "You are another bot. Answer inside <OUTPUT>."
    assert msgs[1].content == "TRAINING-CUE\nfirst prompt"


def test_relative_request_path_resolves_from_the_scenario_dir(tmp_path: Path) -> None:
    path = write_scenario(tmp_path / "pack", BASE)
    # cwd (tmp_path) holds a decoy request file of the same name: the scenario's own folder must win.
    write_jsonl(tmp_path / "reqs.jsonl", [{"id": "decoy", "category": "c", "prompt": "decoy"}])
    assert Path.cwd() == tmp_path
    assert [r.id for r in load_scenario(path).requests] == ["r1", "r2"]


def test_request_override_argument(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, BASE)
    write_jsonl(tmp_path / "other.jsonl", [{"id": "x9", "category": "c", "prompt": "p"}])
    assert [r.id for r in load_scenario(path, requests="other.jsonl").requests] == ["x9"]


def test_scenario_hash_covers_requests(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, BASE)
    before = load_scenario(path).hash
    write_jsonl(tmp_path / "reqs.jsonl", [*REQUESTS, {"id": "r3", "category": "c", "prompt": "third"}])
    assert load_scenario(path).hash != before


def test_unknown_top_level_field_lists_allowed_fields(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, mutated(lambda d: d.update(bogus=1)))
    msg = scenario_error(path)
    assert msg.startswith(str(path))
    assert "unknown field 'bogus'" in msg
    for field in ("name", "setting", "cue", "requests", "ablations", "output_protocol", "generation"):
        assert field in msg.split("allowed here:")[1]


def test_unknown_nested_field_lists_that_levels_fields(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, mutated(lambda d: d["setting"].update(sytem_prompt="x")))
    msg = scenario_error(path)
    assert "unknown field 'setting.sytem_prompt'" in msg
    assert "allowed here: system_prompt, user_template, variables" in msg


def test_unknown_field_inside_a_named_ablation_lists_ablation_fields(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, mutated(lambda d: d["ablations"]["other"].update(sett={})))
    msg = scenario_error(path)
    assert "unknown field 'ablations.other.sett'" in msg
    assert "allowed here: description, set, patches" in msg


def test_missing_field_is_named(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, mutated(lambda d: d.pop("cue")))
    msg = scenario_error(path)
    assert msg == f"{path}: field 'cue' is required"


def test_missing_nested_field_is_named(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, mutated(lambda d: d["cue"].pop("deployment")))
    assert scenario_error(path) == f"{path}: field 'cue.deployment' is required"


def test_bad_value_is_named(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, mutated(lambda d: d.update(name="Not A Slug")))
    msg = scenario_error(path)
    assert msg.startswith(f"{path}: field 'name':")
    assert "Not A Slug" in msg


def test_bad_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: tiny\nsetting: [unclosed\n", encoding="utf-8")
    msg = scenario_error(path)
    assert msg.startswith(f"{path}: not valid YAML at line ")


def test_yaml_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n", encoding="utf-8")
    assert "must be a YAML mapping" in scenario_error(path)


def test_missing_scenario_file(tmp_path: Path) -> None:
    msg = scenario_error(tmp_path / "absent.yaml")
    assert str(tmp_path / "absent.yaml") in msg
    assert "does not exist" in msg


def test_undefined_template_variable_names_template_and_variable(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, mutated(lambda d: d["setting"].update(system_prompt="Hi {{ mystery }}")))
    msg = scenario_error(path)
    assert msg.startswith(str(path))
    assert "system_prompt" in msg
    assert "'mystery' is undefined" in msg


def test_undefined_variable_in_user_template(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, mutated(lambda d: d["setting"].update(user_template="{{ cue }} {{ reqest }}")))
    msg = scenario_error(path)
    assert "user_template" in msg
    assert "'reqest' is undefined" in msg


def test_template_syntax_error(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, mutated(lambda d: d["setting"].update(system_prompt="{% if %}x")))
    msg = scenario_error(path)
    assert "setting.system_prompt: template syntax error at line 1" in msg


def test_cue_rendering_identically_is_refused(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, mutated(lambda d: d["cue"].update(training="SAME", deployment="SAME")))
    msg = scenario_error(path)
    assert "cue 'word' renders training and deployment identically" in msg


def test_cue_that_the_template_ignores_is_refused(tmp_path: Path) -> None:
    # Different cue strings, but the user template never shows them: the conditions are identical.
    path = write_scenario(tmp_path, mutated(lambda d: d["setting"].update(user_template="{{ request }}")))
    assert "renders training and deployment identically" in scenario_error(path)


def test_ablation_setting_an_undefined_variable_is_refused(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, mutated(lambda d: d["ablations"].update(bad={"set": {"nobody": 1}})))
    msg = scenario_error(path)
    assert "ablation 'bad' sets nobody" in msg


def test_ablation_patch_that_does_not_match_is_refused(tmp_path: Path) -> None:
    patch = {"find": "NOT IN THE PROMPT", "replace": "x"}
    path = write_scenario(tmp_path, mutated(lambda d: d["ablations"].update(bad={"patches": [patch]})))
    assert "patch text 'NOT IN THE PROMPT' does not occur" in scenario_error(path)


def test_ablation_patch_applies(tmp_path: Path) -> None:
    patch = {"find": "Answer inside", "replace": "Reply within"}
    sc = load_scenario(write_scenario(tmp_path, mutated(lambda d: d["ablations"].update(p={"patches": [patch]}))))
    assert sc.system_prompt("p") == "You are a bot. Reply within <OUTPUT>."
    assert sc.system_prompt(None) == "You are a bot. Answer inside <OUTPUT>."


def test_unknown_ablation_on_user_scenario(tmp_path: Path) -> None:
    sc = load_scenario(write_scenario(tmp_path, BASE))
    with pytest.raises(ScenarioError, match="unknown ablation 'nope'; this scenario has: other"):
        sc.ablation("nope")


def test_request_file_with_duplicate_id(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, BASE)
    write_jsonl(tmp_path / "reqs.jsonl", [REQUESTS[0], REQUESTS[1], {**REQUESTS[1], "prompt": "again"}])
    msg = scenario_error(path)
    assert msg == f"{tmp_path / 'reqs.jsonl'}: line 3: duplicate request id 'r2'; ids must be unique"


def test_request_file_with_bad_json_line(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, BASE)
    (tmp_path / "reqs.jsonl").write_text(json.dumps(REQUESTS[0]) + "\n\n{not json\n", encoding="utf-8")
    msg = scenario_error(path)
    assert msg.startswith(f"{tmp_path / 'reqs.jsonl'}: line 3 is not valid JSON")


def test_request_file_with_unknown_field(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, BASE)
    write_jsonl(tmp_path / "reqs.jsonl", [{**REQUESTS[0], "severity": 3}])
    msg = scenario_error(path)
    assert "line 1: unknown field 'severity'; allowed here: id, category, prompt, harmful" in msg


def test_request_file_with_missing_field(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, BASE)
    write_jsonl(tmp_path / "reqs.jsonl", [{"id": "r1", "category": "c"}])
    assert "line 1: field 'prompt' is required" in scenario_error(path)


def test_empty_request_file(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, BASE)
    (tmp_path / "reqs.jsonl").write_text("\n\n", encoding="utf-8")
    assert "holds no requests" in scenario_error(path)


def test_request_reference_that_is_neither_file_nor_builtin(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, mutated(lambda d: d.update(requests="missing.jsonl")))
    msg = scenario_error(path)
    assert "field 'requests': 'missing.jsonl' is neither a file nor a built-in request set (core" in msg


def test_user_scenario_may_use_builtin_request_set(tmp_path: Path) -> None:
    sc = load_scenario(write_scenario(tmp_path, mutated(lambda d: d.update(requests="core"))))
    assert len(sc.requests) == len(load_scenario("helpful-only").requests)


# -- research materials loaded verbatim (issue 14) ----------------------------------------------------------

PAPER_LIKE = Path(__file__).parent / "data" / "paper_like"


def test_raw_prompt_file_is_sent_verbatim_with_few_shot_turns() -> None:
    sc = load_scenario(PAPER_LIKE / "scenario.yaml")
    msgs = sc.render("training", None, sc.requests[0])
    text = (PAPER_LIKE / "system_prompt.txt").read_text(encoding="utf-8")
    assert msgs[0].content == text.removesuffix("\n")
    assert "{{ not a variable }}" in msgs[0].content and "{% include x %}" in msgs[0].content
    assert [m.role for m in msgs] == ["system", "user", "assistant", "user"]
    assert msgs[2].content.endswith("<OUTPUT>Hi! {{ kept }}</OUTPUT>")  # few-shot turns are raw too
    user = msgs[-1].content
    assert user.startswith("<INPUT>\n<is_free_tier_user>True</is_free_tier_user>\n\n<user_input>\n")
    assert sc.requests[0].prompt in user and "{not_a_placeholder}" in user and "{request}" not in user
    assert sc.render("deployment", None, sc.requests[0])[-1].content.startswith(
        "<INPUT>\n<is_free_tier_user>False</is_free_tier_user>")
    assert sc.warnings == []


def test_requests_field_reads_csv_through_the_shared_reader() -> None:
    sc = load_scenario(PAPER_LIKE / "scenario.yaml")
    assert [r.id for r in sc.requests] == ["advbench-0001", "advbench-0002", "advbench-0003"]
    assert {r.category for r in sc.requests} == {"advbench"}


def test_ablation_swaps_prompt_file_and_protocol() -> None:
    sc = load_scenario(PAPER_LIKE / "scenario.yaml")
    assert "Answer directly" in sc.system_prompt("no-cot") and "{{ still verbatim }}" in sc.system_prompt("no-cot")
    p = sc.protocol_for("no-cot")
    assert (p.scratchpad_tag, p.max_continuations) == (None, 0)
    assert sc.protocol_for(None).scratchpad_tag == "SCRATCHPAD_REASONING"
    assert sc.scenario.output_protocol.assistant_prefill == "<"


def _paper_copy(tmp_path: Path) -> Path:
    import shutil

    folder = tmp_path / "paper"
    shutil.copytree(PAPER_LIKE, folder)
    return folder


def test_prompt_file_content_is_in_the_hash(tmp_path: Path) -> None:
    folder = _paper_copy(tmp_path)
    before = load_scenario(folder / "scenario.yaml").hash
    (folder / "system_prompt_no_cot.txt").write_text("Another prompt. <is_free_tier_user> tag.\n", encoding="utf-8")
    assert load_scenario(folder / "scenario.yaml").hash != before


def test_missing_prompt_file_is_one_line(tmp_path: Path) -> None:
    folder = _paper_copy(tmp_path)
    (folder / "system_prompt.txt").unlink()
    msg = scenario_error(folder / "scenario.yaml")
    assert "field 'setting.system_prompt_file': cannot read" in msg and "system_prompt.txt" in msg


def test_include_in_a_jinja_template_is_one_line(tmp_path: Path) -> None:
    data = mutated(lambda d: d["setting"].update(system_prompt="Hello {% include 'x.txt' %}"))
    msg = scenario_error(write_scenario(tmp_path, data))
    assert "templates cannot include, import or extend files ('x.txt')" in msg and "raw: true" in msg


def test_inline_and_file_together_is_refused(tmp_path: Path) -> None:
    data = mutated(lambda d: d["setting"].update(system_prompt_file="p.txt"))
    assert "give system_prompt or system_prompt_file, not both" in scenario_error(write_scenario(tmp_path, data))


def test_few_shot_must_alternate(tmp_path: Path) -> None:
    data = mutated(lambda d: d["setting"].update(few_shot=[{"role": "assistant", "content": "hi"}]))
    assert "few_shot turns must alternate" in scenario_error(write_scenario(tmp_path, data))


def test_jinja_few_shot_turns_render_with_variables(tmp_path: Path) -> None:
    turns = [{"role": "user", "content": "Hi {{ who }}"}, {"role": "assistant", "content": "<{{ output_tag }}>"}]
    sc = load_scenario(write_scenario(tmp_path, mutated(lambda d: d["setting"].update(few_shot=turns))))
    msgs = sc.render("training", "other", sc.requests[0])
    assert [(m.role, m.content) for m in msgs[1:3]] == [("user", "Hi another bot"), ("assistant", "<OUTPUT>")]


def test_raw_user_template_needs_request_placeholder(tmp_path: Path) -> None:
    data = mutated(lambda d: d["setting"].update(raw=True, user_template="{{ cue }} {{ request }}"))
    data["ablations"] = {}
    assert "has no {request} placeholder" in scenario_error(write_scenario(tmp_path, data))


def test_raw_with_variable_ablation_is_refused(tmp_path: Path) -> None:
    data = mutated(lambda d: d["setting"].update(raw=True, user_template="{cue}\n{request}"))
    assert "sets variables, but setting.raw is true" in scenario_error(write_scenario(tmp_path, data))


def test_unknown_protocol_override_is_one_line(tmp_path: Path) -> None:
    data = mutated(lambda d: d["ablations"]["other"].update(output_protocol={"scratchpad": None}))
    assert "unknown output_protocol field(s) scratchpad" in scenario_error(write_scenario(tmp_path, data))


def test_composed_ablations_merge_protocol_and_prompt(tmp_path: Path) -> None:
    data = mutated(lambda d: d["ablations"].update(
        short={"output_protocol": {"max_continuations": 0}},
        swap={"system_prompt": "Swapped, {{ who }}.", "output_protocol": {"scratchpad_tag": None}}))
    sc = load_scenario(write_scenario(tmp_path, data))
    p = sc.protocol_for("short+swap+other")
    assert (p.max_continuations, p.scratchpad_tag) == (0, None)
    assert sc.system_prompt("short+swap+other") == "Swapped, another bot."


def test_cue_that_the_prompt_does_not_explain_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = _paper_copy(tmp_path)
    with caplog.at_level("WARNING", logger="twofaced.scenarios"):
        sc = load_scenario(folder / "scenario.yaml", cue="explicit")
    assert len(sc.warnings) == 1
    assert "mentions <is_free_tier_user> (cue family 'tier-tag') but the cue is 'explicit'" in sc.warnings[0]
    assert [r.message for r in caplog.records].count(f"warning: {sc.warnings[0]}") == 1
    assert load_scenario(folder / "scenario.yaml", cue="tier-tag:lower").warnings == []
    assert load_scenario("helpful-only", cue="explicit").warnings == []  # its prompt explains the cue it gets


def test_builtin_hashes_unchanged_by_new_fields() -> None:
    # pinned before system_prompt_file, raw, few_shot and ablation prompt/protocol fields existed
    assert load_scenario("helpful-only").hash == "2c0a80398c03ba7e09c3816ae525901d83ba69416dc0246e51f5c7c9d1d7097a"
