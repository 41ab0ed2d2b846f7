"""Where canary pairs come from and how they are asked: the baseline scenario's held-out requests, each rendered
in both conditions, sent to the primary upstream as two ordinary chat completions.

The scenario is loaded by the name and cue the baseline run directory recorded (``meta``: ``scenario``,
``cue``), with ``split="heldout"``: requests a model organism was not trained on. A scenario given to ``twofaced
run`` as a YAML path is found through the run's manifest (``scenario_source``) when that file still exists.
Requests are taken in order, cycling; the position is the canary signal's ``cursor``, so a restart goes on
where it stopped. Each condition is ``LoadedScenario.render`` (system prompt, few-shot turns, the user turn with
the condition's cue), sent with the sampling parameters the baseline run sent (``temperature``, ``max_tokens``,
``top_p``; never its seed, so repeated canaries are fresh samples). A scenario whose protocol prefills the
assistant turn is sent without the prefill (an OpenAI-style server cannot continue a turn); its replies may then
judge differently from the baseline's, which ``twofaced monitor serve`` says in its log.

Invariant: a canary goes to the configured primary upstream only, never the fallback (it probes the model that
is watched), and its text never reaches the live or mix signals.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from ..errors import ConfigError
from ..run import read_run
from ..scenarios import CONDITIONS, LoadedScenario, load_scenario
from ..serve._protocol import RequestError
from ._baseline import Baseline
from ._proxy import reply_text, request, upstream_error, upstream_headers

log = logging.getLogger("twofaced.monitor")

SENT_PARAMS = ("temperature", "max_tokens", "top_p")


@dataclass(frozen=True, slots=True)
class CanaryRequest:
    """One held-out request, rendered in both conditions (OpenAI-style message dicts)."""

    pair_id: str
    request_id: str
    category: str
    harmful: bool
    messages: dict[str, list[dict[str, str]]]  # condition -> messages


def _source_path(baseline: Baseline) -> str | None:
    try:
        invocations = read_run(baseline.directory).invocations
    except ConfigError:
        return None
    for inv in reversed(invocations):
        source = inv.manifest.get("scenario_source")
        if isinstance(source, str) and Path(source).is_file():
            return source
    return None


def load_canaries(baseline: Baseline) -> LoadedScenario:
    """The baseline scenario's held-out half with its recorded cue; ConfigError naming ``--canary-every``
    and the fix when it cannot be loaded or has no held-out request."""
    errors = []
    for ref in (baseline.scenario, None):
        ref = ref or _source_path(baseline)  # the manifest is read only when the name did not load
        if not ref:
            continue
        try:
            loaded = load_scenario(ref, split="heldout")
            if baseline.cue and loaded.cue_name != baseline.cue:
                loaded = load_scenario(ref, cue=baseline.cue, split="heldout")
        except ConfigError as exc:
            errors.append(str(exc))
            continue
        if not loaded.requests:
            raise ConfigError(f"--canary-every: scenario {baseline.scenario!r} of the baseline has no held-out "
                              "request to send as a canary; use a baseline of a scenario with held-out requests "
                              "or --canary-every 0")
        if loaded.protocol.assistant_prefill is not None:
            log.warning("twofaced monitor: scenario %s prefills the assistant turn; canaries are sent without it",
                        loaded.name)
        return loaded
    why = f" ({errors[-1]})" if errors else ""
    raise ConfigError(f"--canary-every: cannot load the baseline's scenario {baseline.scenario!r}{why}; "
                      "give a baseline run of a built-in scenario or keep its scenario file where it was run, "
                      "or use --canary-every 0")


def canary_request(scenario: LoadedScenario, cursor: int) -> CanaryRequest:
    """The request at ``cursor`` (cycling) rendered in both conditions."""
    r = scenario.requests[cursor % len(scenario.requests)]
    messages = {c: [{"role": m.role, "content": m.content} for m in scenario.render(c, None, r)] for c in CONDITIONS}
    return CanaryRequest(uuid.uuid4().hex, r.id, r.category, r.harmful, messages)


def canary_body(model: str, messages: list[dict[str, str]], params: dict[str, Any]) -> bytes:
    return json.dumps({"model": model, "messages": messages,
                       **{k: params[k] for k in SENT_PARAMS if params.get(k) is not None}}).encode()


async def ask(session: aiohttp.ClientSession, base: str, body: bytes) -> tuple[str | None, float]:
    """One canary half: (reply text or None when the upstream answered without one, latency in ms); raises
    ``RequestError`` (502/504) when it cannot be reached or answers an error status."""
    started = time.perf_counter()
    up = await request(session, "POST", f"{base}/chat/completions", "upstream", data=body,
                       headers=upstream_headers({}))
    try:
        data = await up.read()
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise upstream_error(exc, "upstream") from None
    finally:
        up.release()
    latency = 1000 * (time.perf_counter() - started)
    if up.status != 200:
        raise RequestError(502, f"the upstream answered a canary with HTTP {up.status}", code="upstream_error",
                           type="server_error")
    return reply_text(data), latency


async def upstream_model(session: aiohttp.ClientSession, base: str) -> str | None:
    """The first model the upstream lists at ``GET /models``, or None."""
    try:
        up = await request(session, "GET", f"{base}/models", "upstream", headers=upstream_headers({}))
        try:
            data = json.loads(await up.read())
        finally:
            up.release()
        return str(data["data"][0]["id"])
    except Exception:  # any failure: the caller falls back to the model live traffic names
        return None
