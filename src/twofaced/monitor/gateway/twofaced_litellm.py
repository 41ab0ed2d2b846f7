"""LiteLLM hooks that hand every completed chat exchange to a twofaced monitor for scoring, and let the monitor's
``block`` policy withhold a plain reply before LiteLLM sends it.

They run inside LiteLLM's proxy, in LiteLLM's own environment, where twofaced is not installed: this file imports
only the standard library, httpx and LiteLLM. ``twofaced monitor litellm-config`` copies it beside the config.yaml
it writes, which names ``litellm_settings: callbacks: twofaced_litellm.handler`` (the callback) and a
``guardrails:`` entry ``twofaced_litellm.TwofacedGuardrail`` (the guardrail); LiteLLM imports both from the
config's directory.

**The callback** (:class:`TwofacedMonitor`): for each successful chat completion (plain, or a stream once LiteLLM
has assembled it) it posts the model, the request messages, the reply text, the stream flag, the latency,
LiteLLM's call id and the served probe's reading (``"twofaced": {"probe": ...}``, when the upstream is
``twofaced serve --probe``) to the monitor's ``POST /admin/exchanges`` with ``Authorization: Bearer
$TWOFACED_ADMIN_TOKEN``. A plain reply's reading is in the ``ModelResponse``'s extra fields; a stream's is on its
final chunk, which LiteLLM drops from the assembled response, so the callback's stream hook notes it by call id
as the chunk passes and the success event takes it from there.

**The guardrail** (:class:`TwofacedGuardrail`, a LiteLLM ``post_call`` guardrail): for each plain chat reply it
posts the same exchange with ``"decide": true`` and waits (``TWOFACED_GUARDRAIL_TIMEOUT``, default 0.5 s) for the
monitor's answer ``{"block", "incidents"}``: the proxy route's rule (the ``block`` policy, an open incident that
blocks, and a reply that fails the judge). ``block`` true raises LiteLLM's ``GuardrailRaisedException`` (403),
which LiteLLM answers as an OpenAI-style error naming the incidents. A monitor that is down, slow or refusing
lets the reply through (fail open), counted and logged. Streams pass unjudged.

Invariants:
- the callback never makes LiteLLM's request path wait: the hook starts a task and returns; at most
  ``max_in_flight`` posts are under way, and an exchange beyond that is dropped and counted;
- nothing here raises into LiteLLM but the guardrail's deliberate block: every failure (monitor down, timeout, a
  refusal) is counted in ``counts`` and logged on one line (the first, then at most one per minute);
- an exchange reaches the monitor once: the guardrail and the callback post the same call id, and the monitor
  queues the first it gets (a repeat is a 409 the callback counts as ``duplicate``; a repeat with ``decide`` is
  judged and not queued again);
- only the named fields leave: never LiteLLM's kwargs or request data as a whole (they hold the upstream's
  ``api_key`` and the client's headers), never a header; the admin token is sent to the monitor only and never
  logged.

Settings, from the environment of the LiteLLM process: ``TWOFACED_MONITOR_URL`` (the monitor's URL,
``http://HOST:PORT``, a trailing ``/v1`` is ignored), ``TWOFACED_ADMIN_TOKEN``, and optionally
``TWOFACED_MONITOR_MAX_IN_FLIGHT`` (default 64), ``TWOFACED_MONITOR_TIMEOUT`` (the callback's, seconds, default
10) and ``TWOFACED_GUARDRAIL_TIMEOUT`` (the guardrail's, seconds, default 0.5).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import AsyncGenerator
from typing import Any

import httpx
from litellm.exceptions import GuardrailRaisedException
from litellm.integrations.custom_guardrail import CustomGuardrail
from litellm.integrations.custom_logger import CustomLogger

URL_ENV = "TWOFACED_MONITOR_URL"
TOKEN_ENV = "TWOFACED_ADMIN_TOKEN"
MAX_IN_FLIGHT_ENV = "TWOFACED_MONITOR_MAX_IN_FLIGHT"
TIMEOUT_ENV = "TWOFACED_MONITOR_TIMEOUT"
GUARDRAIL_TIMEOUT_ENV = "TWOFACED_GUARDRAIL_TIMEOUT"
CHAT_CALLS = frozenset({"acompletion", "completion"})
LOG_EVERY = 60.0
STREAM_READINGS = 4096  # streams whose reading waits for their success event (an abandoned stream's is evicted)

log = logging.getLogger("twofaced.litellm")


def monitor_url(value: str) -> str:
    """The monitor's ingestion endpoint from its URL (root or ``/v1`` base URL)."""
    root = value.strip().rstrip("/")
    if root.endswith("/v1"):
        root = root[:-3]
    return f"{root}/admin/exchanges"


def _text(response: Any) -> str | None:
    """The assistant text of a LiteLLM ``ModelResponse`` (a stream arrives assembled), or None."""
    try:
        content = response.choices[0].message.content
    except (AttributeError, IndexError, TypeError):
        return None
    return content if isinstance(content, str) else None


def _call_id(value: Any) -> str | None:
    """LiteLLM's call id as 32 hex digits (the monitor's id format), or None when it is not a uuid."""
    try:
        return uuid.UUID(str(value)).hex
    except ValueError:
        return None


def probe_field(value: Any) -> dict[str, Any] | None:
    """``{"probe": {...}}`` when ``value`` is a reply's ``"twofaced"`` field with a well-formed reading (a finite
    number ``score``, a true-or-false ``flagged``), else None: the monitor refuses an exchange whose field is
    malformed (400), and a bad reading must not cost the exchange itself."""
    probe = value.get("probe") if isinstance(value, dict) else None
    if not isinstance(probe, dict):
        return None
    score, flagged = probe.get("score"), probe.get("flagged")
    if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
        return None
    if not isinstance(flagged, bool):
        return None
    try:
        return {"probe": json.loads(json.dumps(probe, allow_nan=False))}
    except (TypeError, ValueError):
        return None


def reply_reading(response: Any, original: Any = None) -> dict[str, Any] | None:
    """The probe reading a plain reply carried: from the ``ModelResponse``'s extra fields (where LiteLLM keeps
    an OpenAI-compatible upstream's unknown top-level fields), else from the upstream's raw body
    (``kwargs["original_response"]``, a JSON string); None without one."""
    extra = getattr(response, "model_extra", None)
    if isinstance(extra, dict) and "twofaced" in extra:
        return probe_field(extra["twofaced"])
    if isinstance(original, str) and '"twofaced"' in original:
        try:
            body = json.loads(original)
        except ValueError:
            return None
        return probe_field(body.get("twofaced")) if isinstance(body, dict) else None
    return None


def _latency(start: Any, end: Any) -> float:
    try:
        return max(0.0, (end - start).total_seconds() * 1000)
    except (AttributeError, TypeError):
        return 0.0


def _exchange(model: Any, messages: Any, response: Any, stream: bool, latency: float, call_id: Any,
              reading: dict[str, Any] | None) -> dict[str, Any] | None:
    text = _text(response)
    if not isinstance(messages, list) or not messages or text is None:
        return None
    payload: dict[str, Any] = {
        "model": str(model or ""),
        "messages": json.loads(json.dumps(messages, default=str)),  # plain JSON: LiteLLM may hold typed dicts
        "response": text, "stream": stream, "latency_ms": latency,
    }
    given = _call_id(call_id)
    if given is not None:
        payload["id"] = given
    if reading is not None:
        payload["twofaced"] = reading
    return payload


def exchange_payload(kwargs: dict[str, Any], response: Any, start: Any, end: Any,
                     reading: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The body of ``POST /admin/exchanges`` for one LiteLLM success event, or None when it is not a chat
    completion with reply text. Reads only the named fields of ``kwargs``; ``reading`` is a stream's probe
    reading noted on its final chunk (a plain reply's is read from ``response`` here)."""
    if kwargs.get("call_type") not in CHAT_CALLS:
        return None
    streamed = bool(kwargs.get("stream")) or "complete_streaming_response" in kwargs \
        or "async_complete_streaming_response" in kwargs
    if reading is None and not streamed:
        reading = reply_reading(response, kwargs.get("original_response"))
    return _exchange(kwargs.get("model"), kwargs.get("messages"), response, streamed, _latency(start, end),
                     kwargs.get("litellm_call_id"), reading)


def decision_payload(data: dict[str, Any], response: Any) -> dict[str, Any] | None:
    """The body of ``POST /admin/exchanges`` with ``"decide": true`` for a plain reply the proxy is about to
    send (the guardrail's ``data`` and ``response``), or None when it is no chat reply with text. Reads only the
    named fields of ``data``."""
    if data.get("stream") is True:
        return None
    hidden = getattr(response, "_hidden_params", None)
    latency = hidden.get("_response_ms") if isinstance(hidden, dict) else None
    if isinstance(latency, bool) or not isinstance(latency, int | float) or not math.isfinite(latency):
        latency = 0.0
    payload = _exchange(data.get("model"), data.get("messages"), response, False, max(0.0, float(latency)),
                        data.get("litellm_call_id"), reply_reading(response))
    return None if payload is None else payload | {"decide": True}


class _Monitor:
    """The monitor as the hooks reach it: its URL and token (read at each use, so LiteLLM's
    ``environment_variables`` apply), one httpx client per event loop, counts, and rate-limited log lines."""

    def __init__(self, what: str, url: str | None, token: str | None, timeout: float) -> None:
        self.what = what
        self.url = url
        self.token = token
        self.timeout = timeout
        self.counts: Counter[str] = Counter()
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._logged_at = -LOG_EVERY
        self._unlogged = 0

    def target(self) -> tuple[str, str] | None:
        url = self.url or os.environ.get(URL_ENV)
        token = self.token or os.environ.get(TOKEN_ENV)
        if not url or not token:
            self.warn(f"{URL_ENV} and {TOKEN_ENV} must both be set in LiteLLM's environment; exchanges are "
                      "not monitored")
            return None
        return monitor_url(url), token

    async def post(self, payload: dict[str, Any], url: str, token: str) -> httpx.Response:
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client = httpx.AsyncClient(timeout=self.timeout, trust_env=False)
            self._client_loop = loop
        return await self._client.post(url, json=payload, headers={"Authorization": f"Bearer {token}"})

    def refused(self, url: str, reply: httpx.Response) -> None:
        try:
            message = str(reply.json()["error"]["message"])[:300]
        except (ValueError, KeyError, TypeError):
            message = reply.reason_phrase
        self.warn(f"the monitor at {url} refused an exchange: {reply.status_code} {message}")

    def warn(self, message: str) -> None:
        """One line now, then at most one per LOG_EVERY seconds with how many were not logged."""
        now = time.monotonic()
        if now - self._logged_at < LOG_EVERY:
            self._unlogged += 1
            return
        more = f" ({self._unlogged} more since the last line)" if self._unlogged else ""
        log.warning("twofaced monitor %s: %s%s; counts %s", self.what, message, more, dict(self.counts))
        self._logged_at, self._unlogged = now, 0


def _duplicate(reply: httpx.Response) -> bool:
    try:
        return reply.status_code == 409 and reply.json()["error"]["code"] == "duplicate_exchange"
    except (ValueError, KeyError, TypeError):
        return False


class TwofacedMonitor(CustomLogger):
    """Posts each completed chat exchange to the monitor, fire-and-forget. ``counts``: ``sent`` (accepted by the
    monitor), ``duplicate`` (the guardrail's post of the same exchange got there first), ``failed`` (not
    accepted, or not reached), ``dropped`` (``max_in_flight`` posts under way), ``skipped`` (not a chat
    completion with text, or no monitor configured)."""

    def __init__(self, url: str | None = None, token: str | None = None, *, max_in_flight: int | None = None,
                 timeout: float | None = None) -> None:
        super().__init__()
        self.max_in_flight = max_in_flight or int(os.environ.get(MAX_IN_FLIGHT_ENV) or 64)
        self.monitor = _Monitor("callback", url, token, timeout or float(os.environ.get(TIMEOUT_ENV) or 10.0))
        self.counts = self.monitor.counts
        self._tasks: set[asyncio.Task[None]] = set()
        self._readings: OrderedDict[str, dict[str, Any]] = OrderedDict()  # stream call id -> its reading

    # --- LiteLLM's hooks -----------------------------------------------------------------------------------
    async def async_log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        """Called by LiteLLM after each success, a stream once it has ended; returns at once."""
        try:
            reading = self._readings.pop(str(kwargs.get("litellm_call_id")), None)
            payload = exchange_payload(kwargs, response_obj, start_time, end_time, reading)
            target = self.monitor.target()
            if payload is None or target is None:
                self.counts["skipped"] += 1
                return
            if len(self._tasks) >= self.max_in_flight:
                self.counts["dropped"] += 1
                self.monitor.warn(f"{self.max_in_flight} posts to the monitor are under way; dropped an exchange")
                return
            task = asyncio.get_running_loop().create_task(self._post(payload, *target))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        except Exception as exc:  # never into LiteLLM
            self.counts["failed"] += 1
            self.monitor.warn(f"could not hand an exchange to the monitor: {type(exc).__name__}")

    async def async_post_call_streaming_iterator_hook(self, user_api_key_dict: Any, response: Any,
                                                      request_data: dict[str, Any]) -> AsyncGenerator[Any, None]:
        """Called by LiteLLM's proxy around each streamed reply: passes every chunk on unchanged and notes the
        probe reading of the one that carries it (the final chunk), for :meth:`async_log_success_event`."""
        call_id = str(request_data.get("litellm_call_id")) if isinstance(request_data, dict) else None
        async for chunk in response:
            if call_id is not None:
                field = getattr(chunk, "twofaced", None)
                if field is not None:
                    self._note(call_id, field)
            yield chunk

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait for the posts under way (a shutdown hook or a test)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    # --- internals -----------------------------------------------------------------------------------------
    def _note(self, call_id: str, field: Any) -> None:
        try:
            reading = probe_field(field)
        except Exception:  # never into the stream
            reading = None
        if reading is not None:
            self._readings[call_id] = reading
            if len(self._readings) > STREAM_READINGS:
                self._readings.popitem(last=False)

    async def _post(self, payload: dict[str, Any], url: str, token: str) -> None:
        try:
            reply = await self.monitor.post(payload, url, token)
        except Exception as exc:
            self.counts["failed"] += 1
            self.monitor.warn(f"the monitor at {url} was not reached: {type(exc).__name__}")
            return
        if reply.status_code == 202:
            self.counts["sent"] += 1
        elif _duplicate(reply):
            self.counts["duplicate"] += 1
        else:
            self.counts["failed"] += 1
            self.monitor.refused(url, reply)


class TwofacedGuardrail(CustomGuardrail):
    """Asks the monitor whether to withhold each plain chat reply, and raises when it says so. ``counts``:
    ``passed`` (the monitor let it through), ``blocked``, ``failed_open`` (the monitor was down, slow or
    refused: the reply went out unjudged), ``skipped`` (no chat reply with text, or no monitor configured).

    LiteLLM makes it from the config's ``guardrails:`` entry (``mode: post_call``, ``default_on: true``) and
    passes that entry's ``litellm_params`` as keyword arguments."""

    def __init__(self, url: str | None = None, token: str | None = None, *, timeout: float | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        wait = timeout or float(os.environ.get(GUARDRAIL_TIMEOUT_ENV) or 0.5)
        self.monitor = _Monitor("guardrail", url, token, wait)
        self.counts = self.monitor.counts

    async def async_post_call_success_hook(self, data: dict[str, Any], user_api_key_dict: Any,
                                           response: Any) -> Any:
        """Called by LiteLLM's proxy before it sends a plain reply; returns None (the reply unchanged) or raises
        ``GuardrailRaisedException`` (403) when the monitor withholds it."""
        incidents = await self._decide(data, response)
        if incidents is None:
            return None
        ids = ", ".join(str(i) for i in incidents) or "?"
        raise GuardrailRaisedException(
            guardrail_name=self.guardrail_name, status_code=403, blocked_content=True,
            should_wrap_with_default_message=False,
            message=f"blocked_by_monitor: the twofaced monitor withheld this response: incident {ids} is open and "
                    "the reply failed its judge; an operator acknowledges it with 'twofaced monitor ack'")

    async def _decide(self, data: Any, response: Any) -> list[Any] | None:
        """The incidents that withhold this reply, or None to let it through (also on any failure)."""
        try:
            payload = decision_payload(data, response) if isinstance(data, dict) else None
            target = self.monitor.target()
            if payload is None or target is None:
                self.counts["skipped"] += 1
                return None
            url, token = target
            try:
                reply = await self.monitor.post(payload, url, token)
            except Exception as exc:
                self.counts["failed_open"] += 1
                self.monitor.warn(f"the monitor at {url} did not answer within {self.monitor.timeout:g} s "
                                  f"({type(exc).__name__}); the reply was sent unjudged")
                return None
            if reply.status_code != 200:
                self.counts["failed_open"] += 1
                self.monitor.refused(url, reply)
                return None
            answer = reply.json()
            if answer.get("block") is True:
                self.counts["blocked"] += 1
                incidents = answer.get("incidents")
                return incidents if isinstance(incidents, list) else []
            self.counts["passed"] += 1
            return None
        except Exception as exc:  # never into LiteLLM but the block itself
            self.counts["failed_open"] += 1
            self.monitor.warn(f"could not ask the monitor: {type(exc).__name__}; the reply was sent unjudged")
            return None


handler = TwofacedMonitor()
