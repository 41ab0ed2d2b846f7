"""The monitor's aiohttp application: the OpenAI-compatible proxy routes, health, metrics and the admin API.

Routes: ``POST /v1/chat/completions`` (plain, and ``stream: true`` passed through chunk by chunk as the upstream
sends it), ``GET /v1/models``, ``GET /healthz``, ``GET /metrics`` (Prometheus text), and under ``/admin/``
(``Authorization: Bearer $TWOFACED_ADMIN_TOKEN``): ``GET status``, ``GET incidents``, ``GET exchanges``
(``?flagged=1``: only flagged ones), ``POST exchanges`` (an exchange another gateway answered, ``_ingest.py``),
``POST incidents/{id}/ack``; and ``GET /dashboard`` (the same token), one
HTML page of all of it (``_dashboard.py``).

Invariants:
- every error the monitor makes is an OpenAI-style JSON body: 400 malformed JSON or no ``messages``, 413 a body
  over ``max_body``, 502 upstream unreachable, 504 upstream timeout, 401 admin without the token, 403 a reply
  withheld by the block policy or the admin API disabled (no token configured); an upstream's own error
  status and body are passed through unchanged and not scored;
- the response is sent before its exchange is scored (``Monitor.submit``); a stream is scored once it ends;
- a stream is buffered only while the block policy is active (it must be judged before it can be sent).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from ..errors import ConfigError
from ..serve._protocol import RequestError, decode
from ._dashboard import HEADERS as DASHBOARD_HEADERS
from ._dashboard import render_dashboard
from ._exchange import Exchange, fails
from ._ingest import ingest_handler
from ._metrics import CONTENT_TYPE
from ._proxy import StreamText, read_reply, request, upstream_error, upstream_headers
from ._runtime import Monitor

ADMIN_TOKEN_ENV = "TWOFACED_ADMIN_TOKEN"
FLAGGED_SHOWN = 50
_MONITOR = web.AppKey("monitor", Monitor)
_SETTINGS = web.AppKey("settings", dict)
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=json.dumps(body).encode(), content_type="application/json",
                        headers=headers)


@web.middleware
async def _errors(request: web.Request, handler: _Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RequestError as exc:
        return _json(exc.status, exc.body())
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[_SETTINGS]["max_body"]
        return _json(413, RequestError(413, f"the request body is larger than the monitor's limit of {limit} bytes; "
                                            "send a shorter conversation", code="request_too_large").body())
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _json(exc.status, RequestError(exc.status, f"{exc.reason}: {request.method} {request.path}",
                                              code=exc.reason.lower().replace(" ", "_")).body())
    except Exception as exc:  # a bug here: the monitor stays up and says so
        return _json(500, RequestError(500, f"internal error: {type(exc).__name__}", code="internal_error",
                                       type="server_error").body())


def _target(monitor: Monitor) -> tuple[str, str, str]:
    """(route, base URL, name for errors) of where a request goes now."""
    c = monitor.config
    if monitor.rolled_back and c.fallback is not None:
        return "fallback", c.fallback, "fallback upstream"
    return "upstream", c.upstream, "upstream"


def _blocked(incidents: list[int]) -> web.Response:
    ids = ", ".join(str(i) for i in incidents)
    return _json(403, RequestError(403, f"the monitor withheld this response: incident {ids} is open and the reply "
                                        "failed its judge; an operator acknowledges it with 'twofaced monitor ack'",
                                   code="blocked_by_monitor", type="policy_violation").body())


def _chat_body(raw: bytes) -> dict[str, Any]:
    body = decode(raw)
    if not isinstance(body, dict):
        raise RequestError(400, "the request body must be a JSON object", code="invalid_request")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError(400, "'messages' must be a non-empty list of {\"role\", \"content\"} objects",
                           code="invalid_request", param="messages")
    return body


async def _chat(request_: web.Request) -> web.StreamResponse:
    monitor = request_.app[_MONITOR]
    assert monitor.session is not None
    raw = await request_.read()
    body = _chat_body(raw)
    route, base, name = _target(monitor)
    started = time.perf_counter()
    up = await request(monitor.session, "POST", f"{base}/chat/completions", name, data=raw,
                       headers=upstream_headers(request_.headers))
    try:
        streamed = body.get("stream") is True and up.status == 200 and up.content_type == "text/event-stream"
        if streamed and not monitor.blocking:
            return await _pass_stream(request_, monitor, up, body, route, started)
        try:
            data = await up.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise upstream_error(exc, name) from None
    finally:
        up.release()
    monitor.metrics.requests.labels(route, str(up.status)).inc()
    if up.status != 200:
        return web.Response(status=up.status, body=data, content_type=up.content_type or "application/json")
    if streamed:
        collected = StreamText()
        collected.feed(data + b"\n")
        text: str | None = collected.text
        probe = collected.probe
    else:
        text, probe = read_reply(data)
    if text is not None:
        exchange = Exchange(route, str(body.get("model", "")), body["messages"], text, bool(streamed),
                            latency_ms=1000 * (time.perf_counter() - started), probe=probe)
        if monitor.blocking and fails(monitor.judge(exchange)):
            monitor.metrics.blocked.inc()
            monitor.submit(exchange)
            return _blocked(monitor.blocking_incidents())
    response = web.Response(status=200, body=data, content_type=up.content_type or "application/json")
    if text is not None:
        await response.prepare(request_)
        await response.write_eof()
        monitor.submit(exchange)
    return response


async def _pass_stream(request_: web.Request, monitor: Monitor, up: aiohttp.ClientResponse, body: dict[str, Any],
                       route: str, started: float) -> web.StreamResponse:
    """Relay the upstream's SSE chunks as they arrive; score the collected reply once the stream ends whole."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request_)
    collected = StreamText()
    try:
        async for chunk in up.content.iter_any():
            collected.feed(chunk)
            await response.write(chunk)
        if collected.done:  # queued before the closing chunk: a client that saw [DONE] finds it queued
            monitor.submit(Exchange(route, str(body.get("model", "")), body["messages"], collected.text, True,
                                    latency_ms=1000 * (time.perf_counter() - started), probe=collected.probe))
        await response.write_eof()
    except (TimeoutError, aiohttp.ClientError, ConnectionError):
        return response  # the upstream or the client went away mid-stream: nothing more can be said to either
    finally:
        monitor.metrics.requests.labels(route, "200").inc()
    return response


async def _models(request_: web.Request) -> web.Response:
    monitor = request_.app[_MONITOR]
    assert monitor.session is not None
    _, base, name = _target(monitor)
    up = await request(monitor.session, "GET", f"{base}/models", name, headers=upstream_headers(request_.headers))
    try:
        data = await up.read()
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise upstream_error(exc, name) from None
    finally:
        up.release()
    return web.Response(status=up.status, body=data, content_type=up.content_type or "application/json")


async def _health(request_: web.Request) -> web.Response:
    monitor = request_.app[_MONITOR]
    health = {"status": "ok", "route": _target(monitor)[0], "policy": monitor.config.policy,
              "incidents_open": sorted(monitor.open), "unscored": monitor.unscored,
              "queue": 0 if monitor.queue is None else monitor.queue.qsize()}
    probe = monitor.probe_health()
    return _json(200, health if probe is None else health | {"probe": probe})


async def _metrics(request_: web.Request) -> web.Response:
    monitor = request_.app[_MONITOR]
    if monitor.queue is not None:
        monitor.metrics.queue_depth.set(monitor.queue.qsize())
    return web.Response(body=monitor.metrics.render(), headers={"Content-Type": CONTENT_TYPE})


def _admin(handler: _Handler) -> _Handler:
    """Require ``Authorization: Bearer $TWOFACED_ADMIN_TOKEN``; without a configured token the API is off."""

    async def guarded(request_: web.Request) -> web.StreamResponse:
        token = request_.app[_SETTINGS]["admin_token"]
        if not token:
            return _json(403, RequestError(403, f"the admin API is disabled: set {ADMIN_TOKEN_ENV} to a secret and "
                                                "restart the monitor", code="admin_disabled").body())
        given = request_.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return _json(401, RequestError(401, f"the admin API needs 'Authorization: Bearer <{ADMIN_TOKEN_ENV}>'",
                                           code="unauthorized", type="authentication_error").body(),
                         headers={"WWW-Authenticate": "Bearer"})
        return await handler(request_)

    return guarded


async def _admin_status(request_: web.Request) -> web.Response:
    return _json(200, request_.app[_MONITOR].status())


async def _admin_incidents(request_: web.Request) -> web.Response:
    monitor = request_.app[_MONITOR]
    return _json(200, {"incidents": await asyncio.to_thread(monitor.store.incidents)})


async def _admin_exchanges(request_: web.Request) -> web.Response:
    monitor = request_.app[_MONITOR]
    flagged = request_.query.get("flagged", "") in ("1", "true")
    return _json(200, {"exchanges": await asyncio.to_thread(lambda: monitor.store.exchanges(100, flagged=flagged))})


async def _dashboard(request_: web.Request) -> web.Response:
    monitor = request_.app[_MONITOR]

    def read() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return monitor.store.incidents(), monitor.store.exchanges(FLAGGED_SHOWN, flagged=True)

    incidents, flagged = await asyncio.to_thread(read)
    page = render_dashboard(monitor.status(), monitor.traces(), incidents, flagged)
    return web.Response(text=page, content_type="text/html", charset="utf-8", headers=DASHBOARD_HEADERS)


async def _admin_ack(request_: web.Request) -> web.Response:
    monitor = request_.app[_MONITOR]
    raw = request_.match_info["id"]
    if not raw.isdigit():
        raise RequestError(404, f"no incident {raw!r}; incident ids are whole numbers", code="not_found")
    try:
        incident = await monitor.ack(int(raw))
    except ConfigError as exc:
        raise RequestError(404, str(exc), code="not_found") from None
    return _json(200, incident)


def create_monitor_app(monitor: Monitor) -> web.Application:
    """The application around a built :class:`Monitor` (see :func:`build_monitor`); it starts the monitor's
    client, queue and worker on startup and drains and closes them on cleanup. The admin token is read from
    ``TWOFACED_ADMIN_TOKEN`` here, once."""
    app = web.Application(client_max_size=monitor.config.max_body, middlewares=[_errors])
    app[_MONITOR] = monitor
    app[_SETTINGS] = {"max_body": monitor.config.max_body, "admin_token": os.environ.get(ADMIN_TOKEN_ENV) or None}

    async def start(app: web.Application) -> None:
        await monitor.start()

    async def stop(app: web.Application) -> None:
        await monitor.stop()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    app.router.add_post("/v1/chat/completions", _chat)
    app.router.add_get("/v1/models", _models)
    app.router.add_get("/healthz", _health)
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/admin/status", _admin(_admin_status))
    app.router.add_get("/admin/incidents", _admin(_admin_incidents))
    app.router.add_get("/admin/exchanges", _admin(_admin_exchanges))
    app.router.add_post("/admin/exchanges", _admin(ingest_handler(monitor)))
    app.router.add_post("/admin/incidents/{id}/ack", _admin(_admin_ack))
    app.router.add_get("/dashboard", _admin(_dashboard))
    return app
