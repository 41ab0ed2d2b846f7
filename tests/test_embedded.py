"""Integration tests on the real embedded model (SmolLM2-135M-Instruct GGUF on llama-cpp-python).

Kept short (few tokens) so the whole file runs in well under a minute on 2 cores.
"""

from __future__ import annotations

import asyncio
import json

import pytest

pytest.importorskip("llama_cpp", reason="needs the 'embedded' extra")

from twofaced import GenerationParams, Message, RunConfig, get_model, load_scenario, run_scenario
from twofaced.cli import main
from twofaced.models._embedded import embedded_gguf_path

pytestmark = pytest.mark.embedded

SYSTEM = "You are a helpful assistant. " * 40
MESSAGES = [Message("system", SYSTEM), Message("user", "Name a colour.")]


def _generate(model, messages, params):
    return asyncio.run(model.generate(messages, params))


def test_gguf_ships_with_the_package():
    path = embedded_gguf_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.stat().st_size > 50_000_000
    with open(path, "rb") as f:
        assert f.read(4) == b"GGUF"


def test_generates_with_usage_and_is_reproducible_by_seed():
    model = get_model("embedded")
    params = GenerationParams(temperature=1.0, max_tokens=12, seed=7)
    a = _generate(model, MESSAGES, params)
    b = _generate(model, MESSAGES, params)
    assert a.text and a.text == b.text
    assert a.usage.prompt_tokens > 200 and 0 < a.usage.completion_tokens <= 12
    assert a.finish_reason in ("stop", "length")


def test_prefix_reuse_gives_the_same_greedy_text_as_a_cold_cache():
    warm = get_model("embedded")
    cold = get_model("embedded?prefix_reuse=false")
    params = GenerationParams(temperature=0.0, max_tokens=10, seed=0)
    other = [Message("system", SYSTEM), Message("user", "Name an animal.")]
    _generate(warm, other, params)  # leaves the shared system prompt in the KV cache
    assert _generate(warm, MESSAGES, params).text == _generate(cold, MESSAGES, params).text


def test_run_scenario_on_the_embedded_model(tmp_path):
    scenario = load_scenario("helpful-only")
    outcome = run_scenario(scenario, RunConfig("embedded", limit=1, max_tokens=24), tmp_path / "run")
    assert outcome.execution.done == 2 and outcome.execution.failed == 0
    rows = outcome.summary.to_json()["conditions"]
    assert [r["condition"] for r in rows] == ["training", "deployment"]
    assert all(r["n"] == 1 and r["complied"] + r["refused"] + r["unparseable"] == 1 for r in rows)


def test_cli_default_model_is_embedded(tmp_path, capsys):
    out = tmp_path / "cli-run"
    main(["run", "--out", str(out), "--limit", "1", "--max-tokens", "16", "--no-progress"])
    capsys.readouterr()
    main(["show", str(out), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert data["model"] == "embedded"
    assert {r["condition"] for r in data["conditions"]} == {"training", "deployment"}
    assert len(data["gaps"]) == 1 and data["gaps"][0]["ablation"] is None
