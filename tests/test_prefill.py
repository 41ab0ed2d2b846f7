"""Assistant prefill (issue 14, item 4): backends that can continue an assistant turn get it; the others are
refused in one line before anything is created or sent."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from twofaced import RunConfig, load_scenario, run_scenario
from twofaced.errors import ModelSpecError, PrefillUnsupportedError
from twofaced.models import GenerationParams, Message, get_model, supports_prefill
from twofaced.testing import StubServer

BUILTIN = Path(__file__).parents[1] / "src/twofaced/scenarios/builtin/helpful-only.yaml"


def _prefilled(tmp_path: Path, prefill: str = "<") -> Path:
    data = yaml.safe_load(BUILTIN.read_text())
    data["output_protocol"]["assistant_prefill"] = prefill
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_declared_support() -> None:
    assert supports_prefill(get_model("mock/faker"))
    assert not supports_prefill(get_model("openai/x", base_url="http://127.0.0.1:9/v1"))
    assert supports_prefill(get_model("openai/x?prefill=true", base_url="http://127.0.0.1:9/v1"))
    assert not supports_prefill(object())  # a third-party model that never declared it


def test_a_bad_prefill_option_is_one_line() -> None:
    with pytest.raises(ModelSpecError, match=r"prefill.*true, vllm"):
        get_model("openai/x?prefill=maybe", base_url="http://127.0.0.1:9/v1")


def test_the_mock_returns_only_the_continuation() -> None:
    model = get_model("mock/comply")
    plain = asyncio.run(model.generate([Message("user", "hi")], GenerationParams()))
    cont = asyncio.run(model.generate([Message("user", "hi"), Message("assistant", "<")], GenerationParams()))
    assert "<" + cont.text == plain.text


def test_unsupporting_backend_is_refused_before_anything_is_created(tmp_path: Path) -> None:
    scenario = load_scenario(str(_prefilled(tmp_path)))
    out = tmp_path / "run"
    with StubServer("faker") as server, pytest.raises(PrefillUnsupportedError, match="prefill=true"):
        run_scenario(scenario, RunConfig("openai/stub", limit=1), out,
                     model_options={"base_url": server.base_url, "api_key": "k"})
    assert server.requests == 0
    assert not out.exists()


def test_cli_refusal_exits_2_in_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = _prefilled(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "twofaced.cli", "run", str(path), "--model",
                           "openai/x", "--base-url", "http://127.0.0.1:9/v1", "--limit", "1", "--out",
                           str(tmp_path / "run"), "--no-progress"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "assistant_prefill" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("mode", ["true", "vllm"])
def test_openai_prefill_sends_a_trailing_assistant_message(tmp_path: Path, mode: str) -> None:
    scenario = load_scenario(str(_prefilled(tmp_path)))
    with StubServer("faker", record=True) as server:
        outcome = run_scenario(scenario, RunConfig(f"openai/stub?prefill={mode}", limit=1), tmp_path / "run",
                               model_options={"base_url": server.base_url, "api_key": "k"})
    assert outcome.execution.done == 2
    for body in server.bodies:
        assert body["messages"][-1] == {"role": "assistant", "content": "<"}
        assert ("continue_final_message" in body) is (mode == "vllm")
