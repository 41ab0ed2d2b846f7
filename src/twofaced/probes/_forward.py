"""Batched forward passes that run a shared token prefix once and reuse its key/value cache.

Why: the rows of one read (activation capture, a decision read) share most of their tokens, the system prompt,
typically 80% of a prompt; running it once per batch instead of once per row is most of the speed of both.

How: rows are sorted by token ids so shared prefixes sit side by side, then cut into batches. A batch's longest
common token prefix (:func:`common_prefix`, optionally capped per row) runs once as its own pass with the
caller's hooks quiet; its ``DynamicCache`` is kept by token ids, deep-copied and repeated over the batch, and
only the suffixes run, right-padded: causal attention means a real token never sees the padding after it, and
positions follow the cache. Numbers match one unbatched pass per row up to float rounding.

Invariants the caller keeps: it iterates :func:`prefix_passes` under ``torch.no_grad()``, calls the same module
it passed with each :attr:`Pass.inputs`, and reuses a ``store`` only while the weights stay the same.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

MIN_PREFIX = 16  # a shorter common prefix is not worth a separate pass


@dataclass(frozen=True)
class Pass:
    """One batch's forward pass: ``module(**inputs)`` over the suffixes after the cached prefix."""

    rows: list[int]
    """Indices into the caller's rows, in the order of the batch dimension."""
    suffixes: list[list[int]]
    """Each row's tokens after the cached prefix: what the pass runs (position 0 is the first suffix token)."""
    inputs: dict[str, Any]
    """Keyword arguments of the forward call: ids, attention mask, ``use_cache`` and the prefix's cache if any."""


def common_prefix(seqs: list[list[int]]) -> int:
    """Length of the longest common token prefix, leaving at least one token (the last) in every suffix; 0 when
    shorter than ``MIN_PREFIX`` or when the batch has one row (nothing to share)."""
    if len(seqs) < 2:
        return 0
    n = min(len(s) for s in seqs) - 1
    first = seqs[0]
    i = 0
    while i < n and all(s[i] == first[i] for s in seqs):
        i += 1
    # A reply-mean span must lie in the suffix: the span is at most the reply, which follows the prompt, and
    # prompts differ before their replies unless two rows are identical prompts (then the span is clipped).
    return i if i >= MIN_PREFIX else 0


def cache_kw(module: Any) -> str:
    """The forward argument of ``module`` that takes a key/value cache: ``cache`` in newer transformers, else
    ``past_key_values``."""
    inner = module.get_base_model() if hasattr(module, "get_base_model") else module
    return "cache" if "cache" in inspect.signature(inner.forward).parameters else "past_key_values"


def prefix_passes(module: Any, rows: list[list[int]], batch_size: int, *, caps: Sequence[int] | None = None,
                  store: dict[tuple[int, ...], Any] | None = None,
                  quiet: Callable[[], AbstractContextManager[Any]] = contextlib.nullcontext) -> Iterator[Pass]:
    """The forward passes over ``rows`` (token ids), ``batch_size`` rows each, shared prefixes cached.

    Called by activation capture and the decision read, which set their hooks' per-row state from each
    :class:`Pass` and then call ``module(**p.inputs)`` themselves. ``caps`` (one per row: the decision read's
    system turn) makes each row's prefix exactly its cap, cached even for a row alone in its batch, so what the
    caller's hooks see (noise after the system prompt) does not depend on how rows were batched. ``store`` keeps
    every prefix's cache across calls (keep it while the weights stay the same); without one, only the latest
    prefix's cache is kept, for this call. ``quiet`` wraps each prefix pass: it mutes the caller's hooks and may
    swallow the exception one raises to stop early (the cache then holds only the blocks below, which the suffix
    passes, stopped at the same block, never exceed).

    >>> with torch.no_grad():  # doctest: +SKIP
    ...     for p in prefix_passes(net, rows, 8):
    ...         logits = net(**p.inputs).logits  # [len(p.rows), max suffix length, vocab]
    """
    import torch
    from transformers import DynamicCache

    device = next(module.parameters()).device
    kw = cache_kw(module)
    caches: dict[tuple[int, ...], Any] = {} if store is None else store
    order = sorted(range(len(rows)), key=lambda i: rows[i])  # shared prefixes end up side by side
    if caps is None:
        batches = [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
    else:  # each row's capped prefix is cached whatever the batch: rows are batched only with rows sharing it
        groups: dict[tuple[int, ...], list[int]] = {}
        for i in order:
            groups.setdefault(tuple(rows[i][:max(0, min(caps[i], len(rows[i]) - 1))]), []).append(i)
        batches = [g[start:start + batch_size] for g in groups.values() for start in range(0, len(g), batch_size)]
    for batch in batches:
        seqs = [rows[i] for i in batch]
        prefix = common_prefix(seqs) if caps is None else max(0, min(caps[batch[0]], len(seqs[0]) - 1))
        inputs: dict[str, Any] = {}
        if prefix:
            key = tuple(seqs[0][:prefix])
            if key not in caches:
                if store is None:
                    caches.clear()
                cache = DynamicCache(config=module.config)
                with quiet():
                    module(input_ids=torch.tensor([list(key)], dtype=torch.long, device=device), use_cache=True,
                           **{kw: cache})
                caches[key] = cache
            repeated = copy.deepcopy(caches[key])
            if len(batch) > 1:
                repeated.batch_repeat_interleave(len(batch))
            inputs[kw] = repeated
        suffixes = [s[prefix:] for s in seqs]
        width = max(len(s) for s in suffixes)
        ids = torch.zeros((len(batch), width), dtype=torch.long)
        mask = torch.zeros((len(batch), prefix + width), dtype=torch.long)
        mask[:, :prefix] = 1
        for j, s in enumerate(suffixes):
            ids[j, :len(s)] = torch.tensor(s, dtype=torch.long)
            mask[j, prefix:prefix + len(s)] = 1
        inputs.update(input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=bool(prefix))
        yield Pass(batch, suffixes, inputs)
