"""Expand scenario x ablations x requests x conditions x samples into work items with content-hash ids.

An item's id hashes everything that determines its output: model spec, generation parameters (seed
included; only the parameters that are set, as sent), the rendered messages, the continuation rule and the
sample index. Same inputs, same id, so a
re-run finds its finished work; change any input and the item is new.

Order matters for the embedded model's prefix reuse: ablation-major, then request, then condition, then
sample, so items sharing a system prompt (and the same request) run back to back.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ..judges._parse import CONTINUATION_RULE
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
    seed: int | None = 0
    judges: tuple[str, ...] = ()  # judges applied to every done item after the run (``--judge``); not identity

    def params(self, scenario: LoadedScenario, sample: int) -> GenerationParams:
        """What sample ``sample`` sends: the command's ``temperature`` / ``max_tokens`` over what the scenario's
        ``generation:`` block writes; anything neither sets stays unset and is not sent. ``seed + sample`` when a
        seed is set; ``seed=None`` sends none (samples then differ only by their index, in the item id)."""
        g = scenario.scenario.generation.set_fields()
        return GenerationParams(
            temperature=g.get("temperature") if self.temperature is None else self.temperature,
            max_tokens=g.get("max_tokens") if self.max_tokens is None else self.max_tokens,
            top_p=g.get("top_p"),
            seed=None if self.seed is None else self.seed + sample,
        )


def _canonical(value: Any) -> str:
    """The JSON an item id hashes: sorted keys, no spaces, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical(payload).encode()).hexdigest()[:32]


def expand(scenario: LoadedScenario, config: RunConfig) -> list[tuple[Any, ...]]:
    """Rows ready for :meth:`Store.add_items`, in execution order.

    An id is ``_hash({"condition", "continuation", "messages", "model", "params", "sample"})``. The condition
    is part of an item's identity even where its messages are not (the no-cue baseline renders both conditions
    alike, and they are still two measurements). Canonical JSON composes
    (the dump of a dict with sorted keys is its keys' dumps in order), so the hash is fed the parts instead:
    a sha256 of everything up to ``"params":`` once per (ablation, request, condition), copied per sample and
    finished with that sample's params and index, each encoded once. Same bytes, same ids as ``_hash``.
    """
    requests = scenario.requests[: config.limit] if config.limit else scenario.requests
    model = canonical_spec(config.model_spec)

    def heads_for(ablation: str | None) -> dict[str, str]:
        # An ablation may change the output protocol (no scratchpad, another budget): its items continue by it.
        protocol = scenario.protocol_for(ablation)
        continuation: dict[str, Any] = {
            "message": protocol.continuation_message, "max": protocol.max_continuations,
            "scratchpad": protocol.scratchpad_tag, "output": protocol.output_tag, "rule": CONTINUATION_RULE}
        if protocol.assistant_prefill:  # what the model is asked to continue is part of what determines its output
            continuation["prefill"] = protocol.assistant_prefill
        return {c: f'{{"condition":{_canonical(c)},"continuation":{_canonical(continuation)},"messages":'
                for c in CONDITIONS}

    tail = f',"model":{_canonical(model)},"params":'
    per_sample = []  # (sample, params JSON for the row, the hash's suffix for this sample)
    for sample in range(config.samples):
        params = config.params(scenario, sample).to_dict()
        per_sample.append((sample, json.dumps(params),
                           f'{_canonical(params)},"sample":{_canonical(sample)}}}'.encode()))
    rows: list[tuple[Any, ...]] = []
    seq = 0
    for ablation in (None, *config.ablations):
        heads = heads_for(ablation)
        system = scenario.system_prompt(ablation)  # render once per ablation, not per item
        for request in requests:
            harmful = int(request.harmful)
            for condition in CONDITIONS:
                messages = scenario.render(condition, ablation, request)
                assert messages[0].content == system
                msg_dicts = [{"role": m.role, "content": m.content} for m in messages]
                messages_json = json.dumps(msg_dicts)
                prefix = hashlib.sha256(f"{heads[condition]}{_canonical(msg_dicts)}{tail}".encode())
                for sample, params_json, suffix in per_sample:
                    h = prefix.copy()
                    h.update(suffix)
                    rows.append((h.hexdigest()[:32], seq, model, condition, ablation, request.id,
                                 request.category, harmful, sample, messages_json, params_json, request.prompt))
                    seq += 1
    return rows
