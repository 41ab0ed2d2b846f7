"""Only the generation parameters a scenario or the command sets are sent (issue 14, item 5).

Checked on the wire: a real run against the loopback stub server, which records every request body."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from twofaced import RunConfig, load_scenario, run_scenario
from twofaced.errors import RunDirError
from twofaced.models import LOCAL_DEFAULTS, GenerationParams, get_model
from twofaced.run import open_store
from twofaced.testing import StubServer

BUILTIN = Path(__file__).parents[1] / "src/twofaced/scenarios/builtin/helpful-only.yaml"


def _scenario(tmp_path: Path, generation: dict[str, object] | None) -> Path:
    data = yaml.safe_load(BUILTIN.read_text())
    if generation is None:
        data.pop("generation", None)
    else:
        data["generation"] = generation
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _sent(tmp_path: Path, generation: dict[str, object] | None, **config: object) -> list[dict[str, object]]:
    scenario = load_scenario(str(_scenario(tmp_path, generation)))
    with StubServer("faker", record=True) as server:
        run_scenario(scenario, RunConfig("openai/stub", limit=1, **config), tmp_path / "run",  # type: ignore[arg-type]
                     model_options={"base_url": server.base_url, "api_key": "k"})
        return server.bodies


def test_a_scenario_setting_only_temperature_sends_only_temperature(tmp_path: Path) -> None:
    bodies = _sent(tmp_path, {"temperature": 1.0}, seed=None)
    assert bodies
    for body in bodies:
        assert set(body) == {"model", "messages", "temperature"}
        assert body["temperature"] == 1.0


def test_nothing_set_sends_no_sampling_parameter(tmp_path: Path) -> None:
    for body in _sent(tmp_path, None, seed=None):
        assert set(body) == {"model", "messages"}


def test_the_command_sets_what_it_passes_and_seeds_per_sample(tmp_path: Path) -> None:
    bodies = _sent(tmp_path, {"top_p": 0.9}, temperature=0.5, max_tokens=64, seed=7, samples=2)
    assert {(b["temperature"], b["max_tokens"], b["top_p"]) for b in bodies} == {(0.5, 64, 0.9)}
    assert {b["seed"] for b in bodies} == {7, 8}  # sample k sends seed + k
    assert all("stop" not in b for b in bodies)


def test_anthropic_sends_only_what_is_set_and_its_documented_max_tokens(tmp_path: Path) -> None:
    from twofaced.models._anthropic import ANTHROPIC_DEFAULT_MAX_TOKENS

    pytest.importorskip("anthropic")
    scenario = load_scenario(str(_scenario(tmp_path, {"temperature": 0.7})))
    with StubServer("faker", record=True) as server:
        run_scenario(scenario, RunConfig("anthropic/stub", limit=1, seed=None), tmp_path / "run",
                     model_options={"base_url": server.base_url.removesuffix("/v1"), "api_key": "k"})
    assert server.bodies
    for body in server.bodies:
        assert body["max_tokens"] == ANTHROPIC_DEFAULT_MAX_TOKENS
        assert body["temperature"] == 0.7
        assert "top_p" not in body


def test_params_dict_round_trips_and_old_complete_dicts_still_read() -> None:
    p = GenerationParams(temperature=1.0, seed=3)
    assert p.to_dict() == {"temperature": 1.0, "seed": 3}
    assert GenerationParams.from_dict(p.to_dict()) == p
    old = {"temperature": 1.0, "max_tokens": 512, "top_p": 1.0, "seed": 0, "stop": []}
    assert GenerationParams.from_dict(old) == GenerationParams(1.0, 512, 1.0, 0)
    assert GenerationParams().with_defaults(LOCAL_DEFAULTS) == GenerationParams(1.0, 512, 1.0, None)


def test_the_item_records_exactly_what_was_sent(tmp_path: Path) -> None:
    _sent(tmp_path, {"temperature": 1.0}, seed=None)
    store = open_store(tmp_path / "run", create=False)
    try:
        meta = store.meta()
    finally:
        store.close()
    assert meta["params"] == '{"temperature": 1.0}'
    assert meta["seed"] == "unset" and meta["max_tokens"] == "unset"


def test_a_directory_from_before_unset_parameters_is_refused_not_rerun(tmp_path: Path) -> None:
    scenario = load_scenario("helpful-only")
    out = tmp_path / "run"
    run_scenario(scenario, RunConfig("mock/faker", limit=1), out)
    store = open_store(out, create=False)
    try:
        with store.transaction():
            store.conn.execute("DELETE FROM meta WHERE key = 'params'")  # what an older twofaced wrote
        before = store.status_counts()
    finally:
        store.close()
    with pytest.raises(RunDirError, match=r"sent every sampling parameter.*another --out"):
        run_scenario(scenario, RunConfig("mock/faker", limit=1), out)
    store = open_store(out, create=False)
    try:
        assert store.status_counts() == before
    finally:
        store.close()


def test_mock_determinism_is_unchanged_with_the_default_seed() -> None:
    import asyncio

    from twofaced.models import Message

    model = get_model("mock/random")
    msgs = [Message("user", "x")]
    a = asyncio.run(model.generate(msgs, GenerationParams(seed=0)))
    b = asyncio.run(model.generate(msgs, GenerationParams(temperature=1.0, max_tokens=512, top_p=1.0, seed=0)))
    assert a.text == b.text
