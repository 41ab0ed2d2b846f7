"""``POST /admin/exchanges``: an exchange that another gateway (LiteLLM, see ``gateway/twofaced_litellm.py``)
answered, handed to the monitor for scoring, and on request judged at once for the ``block`` policy.

The monitor is then not in the request path: the gateway posts the completed exchange (model, messages, reply
text, stream flag, latency, the served probe's reading) here. It becomes an :class:`Exchange` with
``route = "gateway"`` and goes through :meth:`Monitor.submit` like proxied traffic, so it gets the same judge,
detectors, store rows, incidents, webhook and metrics. With ``"decide": true`` (the gateway's guardrail, before it
sends a plain reply) the answer also says whether to withhold the reply, by the proxy route's rule: the
``block`` policy, an open incident that blocks (:meth:`Monitor.blocking`) and a reply that :func:`fails` its
judge.

Invariants:
- the body is checked field by field before anything is queued: 400 (OpenAI-style, naming the field) for
  malformed JSON, a missing or mistyped field or an unknown one; 413 above ``max_body`` (the middleware of
  ``_app.py``); 401 without the admin token (``_admin``);
- only the body's named fields reach the store; no header (the admin token, a client's key) is read here;
- ``route = "gateway"`` exchanges feed the ``live`` signal as the primary upstream's do (the gateway serves the
  model under watch); ``rollback`` cannot act on them, and ``block`` only through ``decide``;
- an exchange is queued once: an ``id`` the caller gives is the stored exchange id; a repeat of one accepted
  since the monitor started is refused with 409, so a retried post is not counted twice, except with
  ``decide``, where a repeat (the gateway's callback posted it first) is judged and answered but not queued.
"""

from __future__ import annotations

import json
import math
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from aiohttp import web

from ..serve._protocol import RequestError, decode
from ._exchange import Exchange, fails
from ._probe_signal import probe_reading
from ._runtime import Monitor

ROUTE = "gateway"
REMEMBERED_IDS = 100_000
_FIELDS = ("model", "messages", "response", "stream", "latency_ms", "id", "twofaced", "decide")
_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


def _bad(message: str, param: str | None = None) -> RequestError:
    return RequestError(400, message, code="invalid_request", param=param)


def parse_exchange(raw: bytes) -> tuple[Exchange, bool]:
    """The :class:`Exchange` a ``POST /admin/exchanges`` body describes and whether it asks for a decision;
    :class:`RequestError` (400) naming the field otherwise. Body: ``{"messages": [...], "response": "...",
    "model": "...", "stream": false, "latency_ms": 12.5, "id": "...", "twofaced": {"probe": {...}},
    "decide": false}``; ``messages`` and ``response`` are required (``twofaced``: the reply's own field, from
    ``twofaced serve --probe``, for the probe signal)."""
    body = decode(raw)
    if not isinstance(body, dict):
        raise _bad("the request body must be a JSON object")
    unknown = sorted(set(body) - set(_FIELDS))
    if unknown:
        raise _bad(f"unknown field(s) {', '.join(map(repr, unknown))}; an exchange has {', '.join(_FIELDS)}",
                   unknown[0])
    messages = body.get("messages")
    if (not isinstance(messages, list) or not messages
            or not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages)):
        raise _bad("'messages' must be a non-empty list of {\"role\", \"content\"} objects", "messages")
    response = body.get("response")
    if not isinstance(response, str):
        raise _bad("'response' must be the reply text, a string", "response")
    model = body.get("model", "")
    if not isinstance(model, str):
        raise _bad("'model' must be a string", "model")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise _bad("'stream' must be true or false", "stream")
    latency = body.get("latency_ms", 0.0)
    if isinstance(latency, bool) or not isinstance(latency, int | float) or not (math.isfinite(latency)
                                                                                and latency >= 0):
        raise _bad("'latency_ms' must be a number of milliseconds, 0 or more", "latency_ms")
    probe = None
    if "twofaced" in body:  # the served probe's reading the reply carried, as 'twofaced serve --probe' sends it
        probe = probe_reading(body["twofaced"])
        if probe is None:
            raise _bad("'twofaced' must be the reply's {\"probe\": {\"score\": number, \"flagged\": true or false}} "
                       "as 'twofaced serve --probe' sends it", "twofaced")
    exchange = Exchange(ROUTE, model, messages, response, stream, latency_ms=float(latency), probe=probe)
    if "id" in body:
        given = body["id"]
        if not isinstance(given, str) or not _ID.fullmatch(given):
            raise _bad("'id' must be 1 to 32 letters, digits, '_' or '-' (e.g. a uuid4 hex)", "id")
        exchange.id = given
    decide = body.get("decide", False)
    if not isinstance(decide, bool):
        raise _bad("'decide' must be true (answer whether the block policy withholds this reply) or false",
                   "decide")
    if decide and stream:
        raise _bad("'decide' is for a reply not yet sent, and a stream's has been: send 'decide' only with "
                   "'stream': false", "decide")
    return exchange, decide


def ingest_handler(monitor: Monitor) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The handler of ``POST /admin/exchanges`` for ``monitor`` (``_app.py`` wraps it in the admin check).
    Answers 202 with ``{"id", "queued"}``; ``queued`` is false when the scoring queue was full (the exchange is
    then counted unscored, as proxied traffic is). With ``decide``: 200 with ``{"id", "queued", "block",
    "incidents"}`` (``incidents``: the open incidents that withhold it, empty unless ``block``; ``queued`` is also
    false for a repeat, already queued)."""
    seen: OrderedDict[str, None] = OrderedDict()  # ids accepted since start, newest last

    async def ingest(request: web.Request) -> web.Response:
        exchange, decide = parse_exchange(await request.read())
        repeat = exchange.id in seen
        if repeat and not decide:
            raise RequestError(409, f"exchange {exchange.id!r} was already submitted; send each exchange once",
                               code="duplicate_exchange", param="id")
        block = decide and monitor.blocking and fails(monitor.judge(exchange))
        queued = False
        if not repeat:
            seen[exchange.id] = None
            if len(seen) > REMEMBERED_IDS:
                seen.popitem(last=False)
            monitor.metrics.requests.labels(ROUTE, "200").inc()
            queued = monitor.submit(exchange)
        if not decide:
            return _answer(202, {"id": exchange.id, "queued": queued})
        if block:
            monitor.metrics.blocked.inc()
        return _answer(200, {"id": exchange.id, "queued": queued, "block": block,
                             "incidents": monitor.blocking_incidents() if block else []})

    return ingest


def _answer(status: int, body: dict[str, object]) -> web.Response:
    return web.Response(status=status, body=json.dumps(body).encode(), content_type="application/json")
