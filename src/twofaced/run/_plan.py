"""Expand scenario x ablations x requests x conditions x samples into work items with content-hash ids.

An item's id hashes everything that determines its output: model spec, generation parameters (seed
included), the rendered messages, the continuation rule and the sample index. Same inputs, same id, so a
re-run finds its finished work; change any input and the item is new.

Order matters for the embedded model's prefix reuse: ablation-major, then request, then condition, then
sample, so items sharing a system prompt (and the same request) run back to back.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ..models import GenerationParams, canonical_spec
from ..scenarios import CONDITIONS, LoadedScenario


@dataclass(frozen=True, slots=True)
class RunConfig:
    """Everything that selects and parameterises the items of one ``twofaced run``."""

    model_spec: str
    limit: int | None = None
    samples: int = 1
    ablations: tuple[str, ...] = ()
    temperature: float | None = None
    max_tokens: int | None = None
    seed: int = 0

    def params(self, scenario: LoadedScenario, sample: int) -> GenerationParams:
        g = scenario.scenario.generation
        return GenerationParams(
            temperature=g.temperature if self.temperature is None else self.temperature,
            max_tokens=g.max_tokens if self.max_tokens is None else self.max_tokens,
            top_p=g.top_p,
            seed=self.seed + sample,
        )


def _hash(payload: dict[str, Any]) -> str:
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def expand(scenario: LoadedScenario, config: RunConfig) -> list[tuple[Any, ...]]:
    """Rows ready for :meth:`Store.add_items`, in execution order."""
    requests = scenario.requests[: config.limit] if config.limit else scenario.requests
    protocol = scenario.protocol
    continuation = {"message": protocol.continuation_message, "max": protocol.max_continuations,
                     "scratchpad": protocol.scratchpad_tag, "output": protocol.output_tag}
    model = canonical_spec(config.model_spec)
    rows: list[tuple[Any, ...]] = []
    seq = 0
    for ablation in (None, *config.ablations):
        system = scenario.system_prompt(ablation)  # render once per ablation, not per item
        for request in requests:
            for condition in CONDITIONS:
                messages = scenario.render(condition, ablation, request)
                assert messages[0].content == system
                msg_dicts = [{"role": m.role, "content": m.content} for m in messages]
                for sample in range(config.samples):
                    params = config.params(scenario, sample).to_dict()
                    item_id = _hash({"model": model, "params": params, "messages": msg_dicts,
                                     "continuation": continuation, "sample": sample})
                    rows.append((item_id, seq, model, condition, ablation, request.id,
                                 request.category, int(request.harmful), sample,
                                 json.dumps(msg_dicts), json.dumps(params)))
                    seq += 1
    return rows
