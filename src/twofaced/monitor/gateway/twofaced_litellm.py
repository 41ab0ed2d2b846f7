"""A LiteLLM callback that hands every completed chat exchange to a twofaced monitor for scoring.

It runs inside LiteLLM's proxy, in LiteLLM's own environment, where twofaced is not installed: it imports only
the standard library, httpx and LiteLLM. ``twofaced monitor litellm-config`` copies it beside the config.yaml it
writes, which names it as ``litellm_settings: callbacks: twofaced_litellm.handler``; LiteLLM imports it from
the config's directory.

For each successful chat completion (plain, or a stream once LiteLLM has assembled it) it posts the model, the
request messages, the reply text, the stream flag, the latency and LiteLLM's call id to the monitor's
``POST /admin/exchanges`` with ``Authorization: Bearer $TWOFACED_ADMIN_TOKEN``. The monitor judges it, moves its
detectors and raises incidents exactly as for traffic through its own proxy (``route = "gateway"``).

Invariants:
- LiteLLM's request path never waits for the monitor: the hook starts a task and returns; at most
  ``max_in_flight`` posts are under way, and an exchange beyond that is dropped and counted;
- nothing here raises into LiteLLM: every failure (monitor down, timeout, a refusal) is counted in
  :attr:`TwofacedMonitor.counts` and logged on one line (the first, then at most one per minute);
- only the named fields leave: never LiteLLM's kwargs as a whole (they hold the upstream's ``api_key``), never
  a header; the admin token is sent to the monitor only and never logged.

Settings, from the environment of the LiteLLM process: ``TWOFACED_MONITOR_URL`` (the monitor's URL,
``http://HOST:PORT``, a trailing ``/v1`` is ignored), ``TWOFACED_ADMIN_TOKEN``, and optionally
``TWOFACED_MONITOR_MAX_IN_FLIGHT`` (default 64) and ``TWOFACED_MONITOR_TIMEOUT`` (seconds, default 10).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from collections import Counter
from typing import Any

import httpx
from litellm.integrations.custom_logger import CustomLogger

URL_ENV = "TWOFACED_MONITOR_URL"
TOKEN_ENV = "TWOFACED_ADMIN_TOKEN"
MAX_IN_FLIGHT_ENV = "TWOFACED_MONITOR_MAX_IN_FLIGHT"
TIMEOUT_ENV = "TWOFACED_MONITOR_TIMEOUT"
CHAT_CALLS = frozenset({"acompletion", "completion"})
LOG_EVERY = 60.0

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


def exchange_payload(kwargs: dict[str, Any], response: Any, start: Any, end: Any) -> dict[str, Any] | None:
    """The body of ``POST /admin/exchanges`` for one LiteLLM success event, or None when it is not a chat
    completion with reply text. Reads only the named fields of ``kwargs``."""
    if kwargs.get("call_type") not in CHAT_CALLS:
        return None
    messages = kwargs.get("messages")
    text = _text(response)
    if not isinstance(messages, list) or not messages or text is None:
        return None
    try:
        latency = max(0.0, (end - start).total_seconds() * 1000)
    except (AttributeError, TypeError):
        latency = 0.0
    streamed = bool(kwargs.get("stream")) or "complete_streaming_response" in kwargs \
        or "async_complete_streaming_response" in kwargs
    payload: dict[str, Any] = {
        "model": str(kwargs.get("model") or ""),
        "messages": json.loads(json.dumps(messages, default=str)),  # plain JSON: LiteLLM may hold typed dicts
        "response": text, "stream": streamed, "latency_ms": latency,
    }
    call_id = _call_id(kwargs.get("litellm_call_id"))
    if call_id is not None:
        payload["id"] = call_id
    return payload


class TwofacedMonitor(CustomLogger):
    """Posts each completed chat exchange to the monitor, fire-and-forget. ``counts``: ``sent`` (accepted by the
    monitor), ``failed`` (not accepted, or not reached), ``dropped`` (``max_in_flight`` posts under way),
    ``skipped`` (not a chat completion with text, or no monitor configured)."""

    def __init__(self, url: str | None = None, token: str | None = None, *, max_in_flight: int | None = None,
                 timeout: float | None = None) -> None:
        super().__init__()
        self.url = url
        self.token = token
        self.max_in_flight = max_in_flight or int(os.environ.get(MAX_IN_FLIGHT_ENV) or 64)
        self.timeout = timeout or float(os.environ.get(TIMEOUT_ENV) or 10.0)
        self.counts: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._logged_at = -LOG_EVERY
        self._unlogged = 0

    # --- LiteLLM's hook ------------------------------------------------------------------------------------
    async def async_log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        """Called by LiteLLM after each success, a stream once it has ended; returns at once."""
        try:
            payload = exchange_payload(kwargs, response_obj, start_time, end_time)
            target = self._target()
            if payload is None or target is None:
                self.counts["skipped"] += 1
                return
            if len(self._tasks) >= self.max_in_flight:
                self.counts["dropped"] += 1
                self._warn(f"{self.max_in_flight} posts to the monitor are under way; dropped an exchange")
                return
            task = asyncio.get_running_loop().create_task(self._post(payload, *target))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        except Exception as exc:  # never into LiteLLM
            self.counts["failed"] += 1
            self._warn(f"could not hand an exchange to the monitor: {type(exc).__name__}")

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait for the posts under way (a shutdown hook or a test)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    # --- internals -----------------------------------------------------------------------------------------
    def _target(self) -> tuple[str, str] | None:
        url = self.url or os.environ.get(URL_ENV)
        token = self.token or os.environ.get(TOKEN_ENV)
        if not url or not token:
            self._warn(f"{URL_ENV} and {TOKEN_ENV} must both be set in LiteLLM's environment; exchanges are "
                       "not monitored")
            return None
        return monitor_url(url), token

    def _http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client = httpx.AsyncClient(timeout=self.timeout, trust_env=False)
            self._client_loop = loop
        return self._client

    async def _post(self, payload: dict[str, Any], url: str, token: str) -> None:
        try:
            reply = await self._http().post(url, json=payload, headers={"Authorization": f"Bearer {token}"})
        except Exception as exc:
            self.counts["failed"] += 1
            self._warn(f"the monitor at {url} was not reached: {type(exc).__name__}")
            return
        if reply.status_code == 202:
            self.counts["sent"] += 1
            return
        self.counts["failed"] += 1
        try:
            message = str(reply.json()["error"]["message"])[:300]
        except (ValueError, KeyError, TypeError):
            message = reply.reason_phrase
        self._warn(f"the monitor at {url} refused an exchange: {reply.status_code} {message}")

    def _warn(self, message: str) -> None:
        """One line now, then at most one per LOG_EVERY seconds with how many were not logged."""
        now = time.monotonic()
        if now - self._logged_at < LOG_EVERY:
            self._unlogged += 1
            return
        more = f" ({self._unlogged} more since the last line)" if self._unlogged else ""
        log.warning("twofaced monitor callback: %s%s; counts %s", message, more, dict(self.counts))
        self._logged_at, self._unlogged = now, 0


handler = TwofacedMonitor()
