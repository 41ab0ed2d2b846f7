"""The aiohttp.web application that puts one twofaced :class:`Model` behind the OpenAI chat-completions API.

Routes: ``GET /v1/models`` (and ``/v1/models/{id}``), ``GET /healthz``, ``POST /v1/chat/completions`` (plain and
``stream: true``). Invariants:

- every error is an OpenAI-style JSON body ``{"error": {"message", "type", "param", "code"}}``: 400 malformed
  JSON or fields, 404 a model name other than the served one (or an unknown path), 405 a wrong method, 413 a
  body over ``max_body`` bytes, 502 the backend failed (:class:`ModelError`), 500 anything else;
- at most ``model.max_concurrency`` requests reach ``generate`` at once (an :class:`asyncio.Semaphore`; the
  embedded model answers one at a time), the rest wait in arrival order;
- a stream starts only once the reply is complete (see ``_protocol.py``: the backend protocol has no token
  stream), so a backend failure is a 502 with an error body even when ``stream: true`` was asked for;
- the application owns the model: ``aclose()`` runs when the application shuts down;
- an ``annotate`` hook (e.g. a probe on the served model's activations, see ``twofaced serve --probe``) runs
  after the reply, inside the same concurrency slot (it may use the model's weights), and what it returns rides
  on the reply as ``"twofaced"`` (the JSON body, or the stream's final chunk); OpenAI clients ignore the field,
  ``twofaced monitor`` reads it. A failing hook is a 500 with an error body, never a reply without its score.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..errors import ModelError
from ..models import Completion, Message, Model, canonical_spec, supports_prefill
from ._protocol import RequestError, completion_body, decode, new_id, parse_request, stream_events

DEFAULT_MAX_BODY = 1024 * 1024
"""Largest request body accepted, in bytes (1 MiB); a larger one is answered 413."""

Annotate = Callable[[list[Message], Completion], Awaitable[dict[str, Any] | None]]
"""A per-exchange hook: the request's messages and the reply in, a JSON-ready dict (or None) out."""

_MODEL_KEY = web.AppKey("model", Model)
_STATE_KEY = web.AppKey("state", dict)


def _json(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(status=status, body=json.dumps(body).encode(), content_type="application/json")


def _error(exc: RequestError) -> web.Response:
    return _json(exc.status, exc.body())


@web.middleware
async def _errors(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                  ) -> web.StreamResponse:
    """aiohttp's own errors (404 unknown path, 405, 413) and unexpected failures as OpenAI-style JSON bodies."""
    try:
        return await handler(request)
    except RequestError as exc:
        return _error(exc)
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[_STATE_KEY]["max_body"]
        return _error(RequestError(413, f"the request body is larger than the server's limit of {limit} bytes; "
                                        "send a shorter conversation or raise --max-body", code="request_too_large"))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _error(RequestError(exc.status, f"{exc.reason}: {request.method} {request.path}",
                                   code=exc.reason.lower().replace(" ", "_")))
    except Exception as exc:  # a bug in a backend or here: the server stays up and says so
        return _error(RequestError(500, f"internal error: {type(exc).__name__}: {exc}", code="internal_error",
                                   type="server_error"))


def _ids(app: web.Application) -> tuple[str, set[str]]:
    state = app[_STATE_KEY]
    return state["id"], state["names"]


async def _models(request: web.Request) -> web.Response:
    model_id, _ = _ids(request.app)
    return _json(200, {"object": "list", "data": [_model_object(model_id)]})


def _model_object(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": "twofaced"}


def _not_found(name: str, model_id: str) -> RequestError:
    return RequestError(404, f"the model {name!r} is not served here; this server serves {model_id!r}",
                        code="model_not_found", param="model")


async def _model(request: web.Request) -> web.Response:
    model_id, names = _ids(request.app)
    name = request.match_info["name"]
    if name not in names:
        raise _not_found(name, model_id)
    return _json(200, _model_object(model_id))


async def _health(request: web.Request) -> web.Response:
    model_id, _ = _ids(request.app)
    return _json(200, {"status": "ok", "model": model_id})


async def _chat(request: web.Request) -> web.StreamResponse:
    app = request.app
    model, state = app[_MODEL_KEY], app[_STATE_KEY]
    chat = parse_request(decode(await request.read()))
    if chat.model not in state["names"]:
        raise _not_found(chat.model, state["id"])
    if chat.messages[-1].role == "assistant" and not supports_prefill(model):
        raise RequestError(400, f"the last message is an assistant message (a prefill) and {state['id']} cannot "
                                "continue one; end the conversation with a user message", code="prefill_unsupported",
                           param="messages")
    async with state["slots"]:
        try:
            completion = await model.generate(chat.messages, chat.params)
        except ModelError as exc:
            raise RequestError(502, f"the model {state['id']} failed: {exc}", code="model_error",
                               type="server_error") from exc
        annotation = await state["annotate"](chat.messages, completion) if state["annotate"] else None
    rid, created = new_id(), int(time.time())
    if not chat.stream:
        body = completion_body(state["id"], completion, id=rid, created=created)
        return _json(200, body | {"twofaced": annotation} if annotation else body)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    events = stream_events(state["id"], completion, id=rid, include_usage=chat.include_usage, created=created,
                           annotation=annotation)
    try:  # one write: the reply is complete, so there is nothing to wait for between chunks
        await response.write(b"".join(events))
        await response.write_eof()
    except ConnectionError:  # the client went away mid-stream; nothing to tell it
        pass
    return response


def create_app(model: Model, *, max_body: int = DEFAULT_MAX_BODY, spec: str | None = None,
               annotate: Annotate | None = None) -> web.Application:
    """The application serving ``model``; its id (``GET /v1/models``) is ``spec`` without ``?options``.

    A request may name the model by that id or by the full ``spec``; any other name is a 404. The application
    owns ``model`` and closes it on shutdown. Called by :class:`ModelServer` and :func:`serve`; for an
    in-process test, ``aiohttp.test_utils.TestServer(create_app(model))`` works too."""
    spec = spec or model.spec
    if max_body < 1:
        raise ValueError("max_body must be at least 1 byte")
    app = web.Application(client_max_size=max_body, middlewares=[_errors])
    app[_MODEL_KEY] = model
    app[_STATE_KEY] = {"id": canonical_spec(spec), "names": {canonical_spec(spec), spec.strip()},
                       "max_body": max_body, "slots": asyncio.Semaphore(max(1, int(model.max_concurrency))),
                       "annotate": annotate}

    async def close(app: web.Application) -> None:
        await model.aclose()

    app.on_cleanup.append(close)
    app.router.add_get("/v1/models", _models)
    app.router.add_get("/v1/models/{name:.+}", _model)
    app.router.add_get("/healthz", _health)
    app.router.add_post("/v1/chat/completions", _chat)
    return app
