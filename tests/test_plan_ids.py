"""Item ids are content hashes that existing run directories resume by: expansion may get faster, never different.

``_expand_reference`` is ``expand`` as it was before it hashed precomputed canonical JSON parts (one
``json.dumps`` of the whole payload per item); the pinned ids were computed with it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from twofaced.models import canonical_spec
from twofaced.run import RunConfig, expand
from twofaced.scenarios import CONDITIONS, LoadedScenario, load_scenario


def _hash_reference(payload: dict[str, Any]) -> str:
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _expand_reference(scenario: LoadedScenario, config: RunConfig) -> list[tuple[Any, ...]]:
    requests = scenario.requests[: config.limit] if config.limit else scenario.requests
    protocol = scenario.protocol
    continuation = {"message": protocol.continuation_message, "max": protocol.max_continuations,
                    "scratchpad": protocol.scratchpad_tag, "output": protocol.output_tag, "rule": "2"}
    if getattr(protocol, "assistant_prefill", None):
        continuation["prefill"] = protocol.assistant_prefill
    model = canonical_spec(config.model_spec)
    rows: list[tuple[Any, ...]] = []
    seq = 0
    for ablation in (None, *config.ablations):
        for request in requests:
            for condition in CONDITIONS:
                messages = scenario.render(condition, ablation, request)
                msg_dicts = [{"role": m.role, "content": m.content} for m in messages]
                for sample in range(config.samples):
                    params = config.params(scenario, sample).to_dict()
                    item_id = _hash_reference({"model": model, "params": params, "messages": msg_dicts,
                                               "continuation": continuation, "sample": sample,
                                               "condition": condition})
                    rows.append((item_id, seq, model, condition, ablation, request.id,
                                 request.category, int(request.harmful), sample,
                                 json.dumps(msg_dicts), json.dumps(params), request.prompt))
                    seq += 1
    return rows


@pytest.fixture(scope="module")
def scenario() -> LoadedScenario:
    return load_scenario("helpful-only")


def test_pinned_ids(scenario: LoadedScenario) -> None:
    """Pinned with the reference function; if the built-in scenario's text or the id payload changes, these
    change on purpose (last: the continuation rule's version joined the payload, so items of the first rule are
    never resumed under the reference rule; before: ids gained the condition)."""
    rows = expand(scenario, RunConfig("mock/faker", limit=1, temperature=0.5, max_tokens=100, seed=7))
    assert rows[0][0] == "2af148f8e7a197270dcc6c30e2c8d47d"
    assert rows[0][3:6] == ("training", None, "cyber-001")
    rows = expand(scenario, RunConfig("openai/stub", limit=3, samples=2))
    assert (rows[0][0], rows[-1][0]) == ("13fdf66d0d058b136be1223145ead974", "d9624b46b7a512cf041744adcf24d96f")
    rows = expand(scenario, RunConfig("openai/stub", limit=2, samples=2,
                                      ablations=("no-rlhf-info", "no-values-modification")))
    assert rows[-1][0] == "ccf068e1ada07570faaf1ca2f568a70b"


@pytest.mark.parametrize("config", [
    RunConfig("mock/faker", limit=2),
    RunConfig("openai/stub", limit=5, samples=4),
    RunConfig("openai/stub", limit=2, samples=3, ablations=("no-rlhf-info", "no-values-modification")),
    RunConfig("mock/random?delay=0", samples=2, temperature=0.0, max_tokens=64, seed=11),
])
def test_rows_match_the_reference(scenario: LoadedScenario, config: RunConfig) -> None:
    assert expand(scenario, config) == _expand_reference(scenario, config)


def test_rows_match_the_reference_with_unusual_text(tmp_path: Path) -> None:
    """Non-ASCII, quotes, backslashes and control characters: the canonical parts must encode like the whole."""
    prompts = ["Résumé für Ärzte: «zitiere» \"das\" \\ und \t tabs\nzwei Zeilen", "日本語の質問 — emoji 🙂 \u2028",
               "plain ascii"]
    path = tmp_path / "odd.jsonl"
    path.write_text("\n".join(json.dumps({"id": f"odd-{i}", "category": "misc", "harmful": i % 2 == 0,
                                          "prompt": p}) for i, p in enumerate(prompts)), encoding="utf-8")
    odd = load_scenario("helpful-only", requests=str(path))
    config = RunConfig("openai/stub", samples=2, ablations=("no-rlhf-info",))
    rows = expand(odd, config)
    assert rows == _expand_reference(odd, config)
    assert len({r[0] for r in rows}) == len(rows)
