"""A saved probe scoring every exchange of a served model: the hook ``twofaced serve SPEC --probe DIR`` installs.

Why at the server: the probe needs the served weights' activations, which only the process that holds them can
read. The score travels with the reply (``"twofaced": {"probe": {...}}``), so a ``twofaced monitor`` in front of
the server turns it into one more signal without importing torch or the probe.

Cost: one forward pass over the prompt up to the probe's layer (the last prompt token; the reply is not run),
run in a worker thread so the event loop stays free, inside the server's concurrency slot (it uses the same
weights as generation). Nothing is cached on disk: live prompts are not kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..models import Completion, Message
from ._activations import capture, model_hash, reachable
from ._probes import Probe

Annotate = Callable[[list[Message], Completion], Awaitable[dict[str, Any] | None]]


def probe_annotator(probe_dir: Path, model: Any, spec: str) -> Annotate:
    """The per-exchange hook for ``model`` (refused, in one line, unless the probe was fitted on these weights,
    or when the probe reads a reply position: only ``last`` is cheap enough to run per exchange)."""
    probe = Probe.load(probe_dir)
    reachable(model, spec)
    probe.check_model(model_hash(model), spec)
    if probe.position != "last":
        raise ConfigError(f"--probe {probe_dir}: it reads position {probe.position!r}; a served probe must read "
                          "the last prompt token (train it with --position last)")

    def score(messages: list[Message]) -> float:
        acts = capture(model, [messages], [probe.layer], "last", batch_size=1, cache=False, spec=spec)
        return float(probe.score(acts[:, 0])[0])

    async def annotate(messages: list[Message], completion: Completion) -> dict[str, Any]:
        value = await asyncio.to_thread(score, messages)
        return {"probe": {"score": round(value, 6), "flagged": value > probe.threshold,
                          "threshold": probe.threshold, "target": probe.target, "layer": probe.layer}}

    return annotate
