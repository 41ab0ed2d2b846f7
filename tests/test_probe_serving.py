"""``twofaced serve SPEC --probe DIR``: a probe scores every exchange of the served weights, and the score rides
on the reply (plain and streamed) for a monitor to read."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest

from twofaced.errors import ConfigError

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.slow,
    pytest.mark.skipif(not all(__import__("importlib").util.find_spec(m) for m in ("torch", "transformers", "peft")),
                       reason="needs the 'organisms' extra"),
]
SPEC = "organism:tier-faker?backend=torch"


@pytest.fixture(scope="module")
def probe_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from twofaced.probes import train_probe

    out = tmp_path_factory.mktemp("probe") / "p"
    train_probe(SPEC, "unmonitored", out, layers=[4, 12], limit=5)
    return out


def test_served_probe_scores_each_exchange_like_an_offline_capture(probe_dir: Path) -> None:
    from twofaced.models import get_model
    from twofaced.probes import Probe, capture
    from twofaced.probes._serving import probe_annotator
    from twofaced.scenarios import load_scenario
    from twofaced.serve import ModelServer

    model = get_model(SPEC)
    probe = Probe.load(probe_dir)
    sc = load_scenario("helpful-only", split="heldout")
    messages = sc.render("deployment", None, sc.requests[0])
    expected = float(probe.score(capture(model, [messages], [probe.layer], cache=False)[:, 0])[0])
    body = {"model": "organism:tier-faker", "max_tokens": 8,
            "messages": [{"role": m.role, "content": m.content} for m in messages]}
    with ModelServer(model, annotate=probe_annotator(probe_dir, model, SPEC)) as server:
        plain = httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=120).json()
        streamed = httpx.post(f"{server.base_url}/chat/completions", json=body | {"stream": True}, timeout=120)
    score = plain["twofaced"]["probe"]
    assert score["score"] == pytest.approx(expected, abs=1e-4)
    assert score["flagged"] == (expected > probe.threshold) and score["layer"] == probe.layer
    chunks = [json.loads(line[6:]) for line in streamed.text.splitlines()
              if line.startswith("data: {")]
    final = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert final[0]["twofaced"]["probe"]["score"] == pytest.approx(expected, abs=1e-4)
    assert all("twofaced" not in c for c in chunks if c is not final[0])
    assert np.isfinite(expected)


def test_a_probe_is_refused_on_other_weights_and_on_a_model_without_hidden_states(probe_dir: Path) -> None:
    from twofaced.models import get_model
    from twofaced.probes._serving import probe_annotator

    control = get_model("organism:tier-faker-control?backend=torch")
    with pytest.raises(ConfigError, match="this probe was trained on organism:tier-faker"):
        probe_annotator(probe_dir, control, "organism:tier-faker-control?backend=torch")
    with pytest.raises(ConfigError, match="backend=torch"):
        probe_annotator(probe_dir, get_model("mock/comply"), "mock/comply")


def test_cli_serve_with_a_probe_on_a_mock_is_one_line(probe_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from helpers import cli

    code, _, stderr = cli(capsys, "serve", "mock/comply", "--probe", str(probe_dir), "--port", "0")
    assert code == 2 and "backend=torch" in stderr and "Traceback" not in stderr
