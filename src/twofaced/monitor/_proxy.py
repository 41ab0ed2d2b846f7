"""Forwarding to the configured upstream over one pooled ``aiohttp.ClientSession``, and reading the reply text
out of what came back (a JSON body, or an SSE stream as it passes through).

aiohttp's client is used because the project already depends on it and the monitor's server is aiohttp too:
one event loop, one connection pool (keep-alive to the upstream), no extra dependency. The choice by
measurement that issue 16 asks for (bench/, docs/benchmarks.md) is not done yet.

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


def reply_text(body: bytes) -> str | None:
    """The assistant text of a ``chat.completion`` JSON body, or None when it has none."""
    try:
        data = json.loads(body)
        content = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return content if isinstance(content, str) else None


class StreamText:
    """Collects the content deltas of an SSE chat stream fed in arbitrary byte chunks (events may straddle
    chunks); :attr:`text` is the reply so far, :attr:`done` whether ``data: [DONE]`` arrived."""

    def __init__(self) -> None:
        self._buffer = b""
        self._parts: list[str] = []
        self.done = False

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
                delta = json.loads(payload)["choices"][0]["delta"].get("content")
            except (ValueError, KeyError, IndexError, TypeError, AttributeError):
                continue
            if isinstance(delta, str):
                self._parts.append(delta)

    @property
    def text(self) -> str:
        return "".join(self._parts)
