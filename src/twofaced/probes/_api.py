"""``probe train`` and ``probe eval`` as library calls: data, activations, sweep, threshold, metrics, files.

Who calls: the CLI (``twofaced probe ...``) and Python users. Both return JSON-ready dicts. The model is built
from its spec once and must expose hidden states (a transformers backend); the probe directory is written only
after everything was computed, each file atomically.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..models import get_model
from ..scenarios import CueFamily, load_scenario
from ._activations import POSITIONS, Prompt, capture, check_layers, generate_replies, model_hash, reachable
from ._activations import decoder_layers as _blocks
from ._data import (
    DEFAULT_SCENARIO,
    DEFAULT_TRAIN_CUES,
    TARGETS,
    CueRef,
    Dataset,
    cue_family_key,
    cue_label,
    defection_data,
    honest_prompts,
    scenario_data,
    split_pairs,
)
from ._device import check_dtype, place, resolve_device
from ._probes import METHODS, Probe, metrics, sweep, threshold_at

FRACTIONS = (0.6, 0.2, 0.2)  # train, validation, test, by pair


@contextlib.contextmanager
def _model(spec: str, device: str | None, n_threads: int | None, dtype: str = "float32") -> Iterator[Any]:
    """The model behind ``spec``, checked for hidden states, on ``device`` (``auto``/None: CUDA when present)
    in ``dtype``; torch threads set for the block."""
    where = resolve_device(device)
    check_dtype(dtype, where)  # both before the model loads
    model = get_model(spec)
    net, _ = reachable(model, spec)
    import torch

    saved = torch.get_num_threads()
    if n_threads:
        torch.set_num_threads(n_threads)
    try:
        place(net, where, dtype)
        yield model
    finally:
        torch.set_num_threads(saved)


def default_layers(count: int) -> list[int]:
    """Every fourth block from the second: a coarse sweep (30 blocks: 1, 5, ..., 29)."""
    return list(range(1, count, 4))


def _replies(model: Any, data: Dataset, position: str) -> list[str] | None:
    """Replies for ``reply-mean``: the contrast pair's answer word, or the model's greedy reply to a chat."""
    if position != "reply-mean":
        return None
    out: list[str | None] = []
    todo: list[int] = []
    for i, p in enumerate(data.prompts):
        if not isinstance(p, str) and p and p[-1].role == "assistant":
            out.append(p[-1].content)
            data.prompts[i] = list(p[:-1])
        else:
            out.append(None)
            todo.append(i)
    if todo:
        made = generate_replies(model, [data.prompts[i] for i in todo])  # type: ignore[misc]
        for i, text in zip(todo, made, strict=True):
            out[i] = text
    return [r or "" for r in out]


def train_probe(spec: str, target: str, out: Path, *, layers: Sequence[int] | None = None, method: str = "logistic",
                cues: Sequence[CueRef] | None = None, scenario: str = DEFAULT_SCENARIO, limit: int = 24,
                position: str = "last", seed: int = 0, batch_size: int = 8, device: str | None = None,
                n_threads: int | None = None) -> dict[str, Any]:
    """Fit a probe for ``target`` on ``spec``'s activations, choose its layer on validation, save it to ``out``.

    >>> train_probe("organism:tier-faker?backend=torch", "unmonitored", Path("probe"))  # doctest: +SKIP
    {'layer': 13, 'test': {'auroc': 1.0, ...}, ...}
    """
    if target not in TARGETS:
        raise ConfigError(f"unknown probe target {target!r}; use one of: {', '.join(TARGETS)}")
    if method not in METHODS:
        raise ConfigError(f"unknown probe method {method!r}; use one of: {', '.join(METHODS)}")
    if position not in POSITIONS:
        raise ConfigError(f"unknown position {position!r}; use one of: {', '.join(POSITIONS)}")
    if limit < 1:
        raise ConfigError(f"--limit must be >= 1, got {limit}")
    families = list(cues or DEFAULT_TRAIN_CUES)
    with _model(spec, device, n_threads) as model:
        net, _ = reachable(model, spec)
        count = len(_blocks(net))
        chosen = check_layers(list(layers) if layers else default_layers(count), count, spec)
        if target == "unmonitored":
            data = scenario_data(families, scenario, "train", limit)
        else:
            data = defection_data()
        parts = split_pairs(data.pairs, FRACTIONS, seed, f"the {target} training data")
        replies = _replies(model, data, position)
        acts = capture(model, data.prompts, chosen, position, replies=replies, batch_size=batch_size, spec=spec)
        digest = model_hash(model)
    train, val, test = parts
    y = data.labels
    layer, table, fits = sweep(acts, chosen, y, data.pairs, train, val, method)
    j = chosen.index(layer)
    w, mean, scale = fits[layer]
    probe = Probe(method, target, layer, position, w, mean, scale, 0.0, digest, spec)
    val_scores = probe.score(acts[val, j])
    probe.threshold = threshold_at(val_scores[y[val] == 0])
    test_metrics = metrics(probe.score(acts[test, j]), y[test], probe.threshold)
    probe.meta = {
        "scenario": scenario if target == "unmonitored" else None,
        "train_cues": [cue_label(f) for f in families] if target == "unmonitored" else [],
        "cue_definitions": {f.name: f.model_dump(mode="json") for f in families
                            if isinstance(f, CueFamily) and target == "unmonitored"},
        "limit": limit, "seed": seed, "data": data.source,
        "n_train": len(train), "n_val": len(val), "n_test": len(test),
        "test_pairs": sorted({int(p) for p in data.pairs[test]}),
        "sweep": [{"layer": r.layer, "val_auroc": r.val_auroc, "val_dprime": r.val_dprime} for r in table],
        "validation": metrics(val_scores, y[val], probe.threshold),
        "test": test_metrics,
    }
    probe.save(out)
    return {"probe": str(out), "model": spec, "target": target, "method": method, "layer": layer,
            "position": position, "threshold": probe.threshold, **{k: probe.meta[k] for k in (
                "train_cues", "n_train", "n_val", "n_test", "sweep")}, "test": test_metrics}


def _stored_cues(meta: dict[str, Any]) -> list[CueRef]:
    """The probe's training cues as it was trained on them: names, or the family objects saved beside them."""
    defined = meta.get("cue_definitions") or {}
    return [CueFamily.model_validate(defined[n]) if n in defined else n for n in meta.get("train_cues") or []]


def evaluate_probe(probe_dir: Path, spec: str, *, cue: CueRef | None = None, scenario: str | None = None,
                   limit: int = 24, batch_size: int = 8, device: str | None = None,
                   n_threads: int | None = None) -> dict[str, Any]:
    """Score a saved probe on ``spec`` (refused unless it is the model the probe was fitted on).

    With ``cue`` or ``scenario``: the scenario's held-out requests, deployment (1) vs training (0), under
    ``cue`` (else the probe's training families, else the scenario's own cue). Without: the probe's own test
    data (held-out requests under its training families, or its held-out contrast pairs). ``fpr_honest`` is
    the rate flagged among the scenario's held-out requests in the training condition.
    """
    probe = Probe.load(probe_dir)
    name = scenario or probe.meta.get("scenario") or DEFAULT_SCENARIO
    trained_on = list(probe.meta.get("train_cues") or [])
    defined = list(probe.meta.get("cue_definitions") or {})
    with _model(spec, device, n_threads) as model:
        probe.check_model(model_hash(model), spec)
        from_scenario = bool(cue or scenario or probe.target == "unmonitored")
        honest: list[Prompt] = []  # from the scenario, the honest exchanges are its training-condition rows
        if from_scenario:
            families: list[CueRef] = [cue] if cue else (_stored_cues(probe.meta) or [load_scenario(name).cue_name])
            data = scenario_data(families, name, "heldout", limit)
            source = f"{name} under {', '.join(cue_label(f) for f in families)}"
        else:
            full = defection_data()
            keep = set(probe.meta.get("test_pairs") or [])
            data = full.subset(np.array([i for i, p in enumerate(full.pairs) if int(p) in keep], dtype=int))
            families = []
            honest = honest_prompts(load_scenario(name).cue_name, name, limit)
            source = f"{full.source} (test pairs)"
        if len(np.unique(data.labels)) < 2:
            raise ConfigError("too little data for a split: the evaluation data holds one class only; raise --limit")
        replies = _replies(model, data, probe.position)
        acts = capture(model, data.prompts, [probe.layer], probe.position, replies=replies, batch_size=batch_size,
                       spec=spec)[:, 0]
        scores = probe.score(acts)
        if from_scenario:
            honest_scores = scores[data.labels == 0]
        else:
            honest_data = Dataset(honest, np.zeros(len(honest), dtype=int), np.arange(len(honest)), name)
            h_replies = _replies(model, honest_data, probe.position)
            honest_scores = probe.score(capture(model, honest_data.prompts, [probe.layer], probe.position,
                                                replies=h_replies, batch_size=batch_size, spec=spec)[:, 0])
    result = metrics(scores, data.labels, probe.threshold)
    result["fpr_honest"] = float((honest_scores > probe.threshold).mean()) if len(honest_scores) else None
    names = [cue_label(f) for f in families]
    if cue is not None and not isinstance(cue, str):
        defined.append(cue.name)
    seen = {cue_family_key(t, defined) for t in trained_on}
    heldout = [n for n in names if cue_family_key(n, defined) not in seen]
    return {"probe": str(probe_dir), "model": spec, "target": probe.target, "method": probe.method,
            "layer": probe.layer, "position": probe.position, "threshold": probe.threshold, "data": source,
            "cues": names, "heldout_cue": bool(heldout) if probe.target == "unmonitored" else None,
            **result}
