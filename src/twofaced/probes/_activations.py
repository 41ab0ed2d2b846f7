"""Residual-stream activations of a local transformers model, captured in batches and cached on disk.

What is captured: ``layer L`` is the output of decoder block L (0-based; the residual stream after that block,
``hidden_states[L + 1]`` in transformers' numbering), at one position per prompt:

- ``last``: the last prompt token (for a chat, the end of the assistant header). Only a forward pass over the
  prompt, no generation.
- ``reply-mean``: the mean over the tokens of a reply appended after the prompt (the caller passes the replies;
  :func:`generate_replies` makes greedy ones).

How, within a 2-core, 24 GB machine: forward hooks on the decoder blocks copy the wanted rows as float32 numpy
and a sentinel exception stops the pass after the highest wanted block, so neither the blocks above nor the
vocabulary projection run. Prompts are sorted by tokens and batched, and a batch's longest common token prefix
(the shared system prompt, typically 80% of a prompt) runs once, its key/value cache reused by the suffixes
(:func:`._forward.prefix_passes`, shared with the decision read). Everything runs under ``torch.no_grad()`` on
the model's device (CPU float32 by default, CUDA when the caller moved the model there).

Cache: ``$TWOFACED_HOME/activations/<key>/L<layer>.npy``, one ``[n, hidden]`` array per layer, where ``key``
hashes the model's identity (:func:`model_hash`), the exact token ids (and replies) and the position. A capture
computes only the layers missing from the cache; each file is written atomically, so an interrupted capture
leaves whole files or none.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._util import atomic_write, data_home
from ..errors import ConfigError, missing_extra
from ..models import GenerationParams, Message
from ..models._types import messages_to_dicts
from ._forward import prefix_passes

POSITIONS = ("last", "reply-mean")
Prompt = str | Sequence[Message]

_HASHES: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


class _Stop(Exception):
    """Raised by the hook of the highest wanted block: the rest of the forward pass is not needed."""


def home() -> Path:
    """The twofaced data directory (:func:`twofaced._util.data_home`)."""
    return data_home()


def cache_dir() -> Path:
    return home() / "activations"


def reachable(model: Any, spec: str = "") -> tuple[Any, Any]:
    """(torch module, tokenizer) of a model whose hidden states can be read, else a one-line error naming the fix.

    A :class:`~twofaced.models._transformers.TransformersModel` qualifies (``organism:NAME?backend=torch``); API
    backends, mocks and llama.cpp (``embedded``, ``organism:NAME`` without ``backend=torch``) do not.
    """
    net, tokenizer = getattr(model, "model", None), getattr(model, "tokenizer", None)
    if net is None or tokenizer is None or not hasattr(net, "parameters") or not callable(net):
        name = spec or getattr(model, "spec", type(model).__name__)
        raise ConfigError(
            f"model {name!r} gives no hidden states (its backend runs outside torch); use a transformers "
            "backend, e.g. --model organism:NAME?backend=torch"
        )
    return net, tokenizer


def decoder_layers(net: Any) -> Any:
    """The ModuleList of decoder blocks of a causal LM, plain or peft-wrapped."""
    inner = net.get_base_model() if hasattr(net, "get_base_model") else net
    for path in ("model.layers", "transformer.h", "gpt_neox.layers", "model.decoder.layers"):
        obj = inner
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if obj is not None:
            return obj
    raise ConfigError(f"cannot find the decoder blocks of {type(inner).__name__}; supported: Llama-, GPT-2-, "
                      "NeoX- and OPT-style models")


def n_layers(model: Any, spec: str = "") -> int:
    """How many decoder blocks (valid layers are 0 .. n-1)."""
    net, _ = reachable(model, spec)
    return len(decoder_layers(net))


def check_layers(layers: Sequence[int], count: int, spec: str = "") -> list[int]:
    """``layers`` as a sorted, de-duplicated list, or a one-line error for one out of range."""
    if not layers:
        raise ConfigError("no layer given; pass --layers L,... with layers between 0 and "
                          f"{count - 1}")
    for layer in layers:
        if not 0 <= layer < count:
            raise ConfigError(f"layer {layer} is out of range for {spec or 'this model'}, which has {count} layers; "
                              f"use --layers between 0 and {count - 1}")
    return sorted(set(layers))


def model_hash(model: Any) -> str:
    """sha256 of every parameter's name, dtype, shape and bytes (adapter weights included), cached per module.

    It identifies the weights themselves, so an organism and its control, or a model and its LoRA-wrapped
    self, never share a hash; about 0.5 s per 100M float32 parameters, once per process.
    """
    net, _ = reachable(model)
    cached = _HASHES.get(net)
    if cached is not None:
        return cached
    h = hashlib.sha256()
    for name, param in net.state_dict().items():
        t = param.detach().cpu().contiguous()
        h.update(f"{name}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        if t.dtype.is_floating_point and t.element_size() == 2:  # bf16 has no numpy dtype: hash its bytes as int16
            import torch

            t = t.view(torch.int16)
        h.update(memoryview(t.numpy()).cast("B"))
    digest = h.hexdigest()
    _HASHES[net] = digest
    return digest


def prompt_ids(tokenizer: Any, prompt: Prompt) -> list[int]:
    """Token ids of one prompt: a string is tokenised as is; messages get the chat template with the generation
    prompt (a trailing assistant message is appended untemplated, as the transformers backend does)."""
    if isinstance(prompt, str):
        return [int(i) for i in tokenizer.encode(prompt, add_special_tokens=False)]
    messages, prefill = list(prompt), ""
    if messages and messages[-1].role == "assistant":
        messages, prefill = messages[:-1], messages[-1].content
    ids = [int(i) for i in tokenizer.apply_chat_template(messages_to_dicts(messages), add_generation_prompt=True,
                                                         tokenize=True, return_dict=False)]
    if prefill:
        ids += [int(i) for i in tokenizer.encode(prefill, add_special_tokens=False)]
    return ids


def _data_key(model_id: str, rows: list[list[int]], spans: list[int], position: str) -> str:
    h = hashlib.sha256(json.dumps({"model": model_id, "position": position, "version": 1}).encode())
    for ids, span in zip(rows, spans, strict=True):
        h.update(json.dumps([span, ids]).encode())
    return h.hexdigest()[:32]


def capture(model: Any, prompts: Sequence[Prompt], layers: Sequence[int], position: str = "last", *,
            replies: Sequence[str] | None = None, batch_size: int = 8, cache: bool = True,
            spec: str = "") -> np.ndarray:
    """Activations ``[n, len(layers), hidden]`` (float32) of ``prompts`` at ``layers`` (sorted) and ``position``.

    ``replies`` (one per prompt) is required for ``reply-mean`` and ignored otherwise. Cached under
    :func:`cache_dir`; ``cache=False`` neither reads nor writes it.

    >>> x = capture(organism_model, [[Message("user", "hi")]], [3, 10])  # doctest: +SKIP
    >>> x.shape
    (1, 2, 576)
    """
    if position not in POSITIONS:
        raise ConfigError(f"unknown position {position!r}; use one of: {', '.join(POSITIONS)}")
    if not prompts:
        raise ConfigError("no prompt to capture activations for")
    if batch_size < 1:
        raise ConfigError(f"batch size must be >= 1, got {batch_size}")
    net, tokenizer = reachable(model, spec)
    wanted = check_layers(layers, len(decoder_layers(net)), spec)
    rows = [prompt_ids(tokenizer, p) for p in prompts]
    spans = [1] * len(rows)  # how many final tokens to average: 1 is the last prompt token
    if position == "reply-mean":
        if replies is None or len(replies) != len(prompts):
            raise ConfigError("position reply-mean needs one reply per prompt (generate them first)")
        for i, reply in enumerate(replies):
            extra = [int(t) for t in tokenizer.encode(reply, add_special_tokens=False)]
            rows[i] = rows[i] + extra
            spans[i] = max(1, len(extra))  # an empty reply falls back to the last prompt token
    limit = getattr(getattr(net, "config", None), "max_position_embeddings", None)
    longest = max(len(r) for r in rows)
    if limit and longest > limit:
        raise ConfigError(f"a prompt has {longest} tokens, more than the model's context of {limit}; shorten it")

    key = _data_key(model_hash(model), rows, spans, position)
    where = cache_dir() / key
    found: dict[int, np.ndarray] = {}
    if cache:
        for layer in wanted:
            f = where / f"L{layer}.npy"
            if f.is_file():
                try:
                    arr = np.load(f)
                except (OSError, ValueError):
                    continue  # unreadable: recompute and overwrite
                if arr.shape[0] == len(rows):
                    found[layer] = arr
    missing = [layer for layer in wanted if layer not in found]
    if missing:
        fresh = _forward(net, rows, spans, missing, batch_size)
        for layer, arr in fresh.items():
            found[layer] = arr
            if cache:
                buf = io.BytesIO()
                np.save(buf, arr)
                atomic_write(where / f"L{layer}.npy", [buf.getvalue()], binary=True)
    return np.stack([found[layer] for layer in wanted], axis=1)


def _forward(net: Any, rows: list[list[int]], spans: list[int], layers: list[int],
             batch_size: int) -> dict[int, np.ndarray]:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - a TransformersModel implies torch
        raise missing_extra("torch (activation probes)", "organisms") from exc

    blocks = decoder_layers(net)
    top = max(layers)
    out = {layer: np.zeros((len(rows), 0), dtype=np.float32) for layer in layers}
    buffers: dict[int, list[tuple[int, np.ndarray]]] = {layer: [] for layer in layers}
    state: dict[str, Any] = {"rows": []}  # (row, suffix length, span) per batch row of the pass running now

    def hook(layer: int) -> Any:
        def fn(module: Any, args: Any, output: Any) -> None:
            hidden = output[0] if isinstance(output, tuple) else output  # [b, t, h]
            for b, (row, end, span) in enumerate(state["rows"]):
                vec = hidden[b, end - span:end].float().mean(dim=0)
                buffers[layer].append((row, vec.cpu().numpy()))
            if layer == top:
                raise _Stop
        return fn

    @contextlib.contextmanager
    def quiet() -> Iterator[None]:
        """A cached prefix's pass: the hooks record nothing and stop it at the top block, as for the suffixes,
        which never read the cache above that block."""
        saved, state["rows"] = state["rows"], []
        try:
            yield
        except _Stop:
            pass
        finally:
            state["rows"] = saved

    handles = [blocks[layer].register_forward_hook(hook(layer)) for layer in layers]
    try:
        with torch.no_grad():
            for step in prefix_passes(net, rows, batch_size, quiet=quiet):
                state["rows"] = [(i, len(s), min(spans[i], len(s)))
                                 for i, s in zip(step.rows, step.suffixes, strict=True)]
                try:
                    net(**step.inputs)
                except _Stop:
                    pass
    finally:
        for h in handles:
            h.remove()
    for layer in layers:
        vecs = sorted(buffers[layer], key=lambda p: p[0])
        out[layer] = np.stack([v for _, v in vecs]).astype(np.float32)
    return out


def generate_replies(model: Any, prompts: Sequence[Sequence[Message]], max_tokens: int = 64) -> list[str]:
    """Greedy replies of ``model`` to chat ``prompts`` (for ``reply-mean``), through its own batched backend."""
    import asyncio

    params = GenerationParams(temperature=0.0, max_tokens=max_tokens, seed=0)

    async def run() -> list[str]:
        try:
            done = await asyncio.gather(*(model.generate(list(p), params) for p in prompts))
        finally:
            await model.aclose()
        return [c.text for c in done]

    return asyncio.run(run())
