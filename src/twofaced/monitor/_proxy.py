"""Forwarding to the configured upstream over one pooled ``aiohttp.ClientSession``, and reading the reply text
out of what came back (a JSON body, or an SSE stream as it passes through), with the served probe's reading when
the reply carries one (``"twofaced": {"probe": ...}``, ``_probe_signal.py``).

aiohttp's client, chosen by measurement (``bench/monitor_upstream_client.py``, docs/benchmarks.md "Monitor:
added latency vs LiteLLM"): on 2 cores against a loopback stub it spent about 0.08 ms of CPU per request, against
0.6 ms for ``httpx2.AsyncClient`` and 1.7 ms for ``httpx.AsyncClient`` at the same concurrency, and answered
serial requests fastest (p50 0.24 ms); uvloop changed its CPU by under 10%. It is also what the server runs on:
one event loop, one connection pool (keep-alive to the upstream, no connection limit), no extra dependency.

Invariants: the URL is the configured base URL plus a fixed path, never taken from the request; the client's
headers are not forwarded except ``Authorization`` when no ``TWOFACED_UPSTREAM_API_KEY`` is set (then that key
is sent instead), and no header value is ever logged or returned; a connection failure is a 502 and a timeout
a 504, both :class:`RequestError` with an OpenAI-style body.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import aiohttp

from ..serve._protocol import RequestError
from ._probe_signal import ProbeReading, probe_reading

UPSTREAM_KEY_ENV = "TWOFACED_UPSTREAM_API_KEY"


def upstream_headers(client_headers: Any) -> dict[str, str]:
    """What is sent upstream: JSON content type and the one credential (see the module)."""
    headers = {"Content-Type": "application/json"}
    key = os.environ.get(UPSTREAM_KEY_ENV)
    auth = f"Bearer {key}" if key else client_headers.get("Authorization")
    if auth:
        headers["Authorization"] = auth
    return headers


def upstream_error(exc: BaseException, name: str) -> RequestError:
    """A failure to reach ``name`` (the upstream or the fallback) as the error the client gets."""
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return RequestError(504, f"the {name} did not answer in time; try again later", code="upstream_timeout",
                            type="server_error")
    return RequestError(502, f"the {name} cannot be reached ({type(exc).__name__}); try again later",
                        code="upstream_unavailable", type="server_error")


async def request(session: aiohttp.ClientSession, method: str, url: str, name: str, *, data: bytes | None = None,
                  headers: dict[str, str] | None = None) -> aiohttp.ClientResponse:
    """Send and return the response with its body unread (the caller reads or streams it, then releases it)."""
    try:
        return await session.request(method, url, data=data, headers=headers)
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise upstream_error(exc, name) from None


def read_reply(body: bytes) -> tuple[str | None, ProbeReading | None]:
    """The assistant text of a ``chat.completion`` JSON body (None when it has none) and the served probe's reading
    it carries (``"twofaced": {"probe": ...}``, from ``twofaced serve --probe``; None without one)."""
    try:
        data = json.loads(body)
        content = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None, None
    return (content if isinstance(content, str) else None), probe_reading(data.get("twofaced"))


def reply_text(body: bytes) -> str | None:
    """The assistant text of a ``chat.completion`` JSON body, or None when it has none."""
    return read_reply(body)[0]


class StreamText:
    """Collects the content deltas of an SSE chat stream fed in arbitrary byte chunks (events may straddle
    chunks); :attr:`text` is the reply so far, :attr:`done` whether ``data: [DONE]`` arrived, :attr:`probe` the
    served probe's reading (``twofaced serve --probe`` sends it on the chunk with ``finish_reason``)."""

    def __init__(self) -> None:
        self._buffer = b""
        self._parts: list[str] = []
        self.done = False
        self.probe: ProbeReading | None = None

    def feed(self, chunk: bytes) -> None:
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            line = line.strip()
            if not line.startswith(b"data:"):
                continue
            payload = line[5:].strip()
            if payload == b"[DONE]":
                self.done = True
                continue
            try:
                event = json.loads(payload)
                if "twofaced" in event:
                    self.probe = probe_reading(event["twofaced"]) or self.probe
                delta = event["choices"][0]["delta"].get("content")
            except (ValueError, KeyError, IndexError, TypeError, AttributeError):
                continue
            if isinstance(delta, str):
                self._parts.append(delta)

    @property
    def text(self) -> str:
        return "".join(self._parts)
