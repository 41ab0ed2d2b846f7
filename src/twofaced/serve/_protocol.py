"""The OpenAI chat-completions wire format, both ways, with no I/O: a request body in, our types out; a
:class:`Completion` in, the response body or the stream's events out.

Invariant: every malformed request raises :class:`RequestError` with the HTTP status and an OpenAI-style
``{"error": {"message", "type", "code"}}`` body whose message names the bad field and the fix; nothing here
raises anything else on any JSON value. Only the sampling parameters a request gives reach the model
(:meth:`GenerationParams.to_dict` keeps only what is set), so the backend's own defaults apply to the rest.

Streaming is a replay: twofaced's :class:`Model` protocol returns whole completions, so :func:`stream_events`
cuts a finished reply into word-sized content deltas (their concatenation is the reply, byte for byte) in
OpenAI's ``chat.completion.chunk`` format. A real token stream needs a streaming method in the backend
protocol (future work).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..models import Completion, GenerationParams, Message

_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
_MAX_STOP = 4
_PIECE = re.compile(r"\s*\S+|\s+")  # each piece is a word with the whitespace before it; together, the text


class RequestError(Exception):
    """A request the server refuses: ``status`` and the OpenAI-style error body :meth:`body` writes."""

    def __init__(self, status: int, message: str, *, code: str, type: str = "invalid_request_error",
                 param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.type = type
        self.param = param

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One validated ``POST /v1/chat/completions`` body."""

    model: str
    messages: list[Message]
    params: GenerationParams
    stream: bool = False
    include_usage: bool = False


def _bad(message: str, param: str | None = None, code: str = "invalid_request") -> RequestError:
    return RequestError(400, message, code=code, param=param)


def _content(value: Any, i: int) -> str:
    """A message's text: a string, or a list of ``{"type": "text", "text": ...}`` parts (joined)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(p, dict) and p.get("type") == "text"
                                       and isinstance(p.get("text"), str) for p in value):
        return "".join(p["text"] for p in value)
    raise _bad(f"messages[{i}].content must be a string (or a list of text parts); this server takes text only",
               f"messages[{i}].content")


def _messages(value: Any) -> list[Message]:
    if not isinstance(value, list) or not value:
        raise _bad("'messages' must be a non-empty list of {\"role\", \"content\"} objects", "messages")
    out = []
    for i, m in enumerate(value):
        if not isinstance(m, dict):
            raise _bad(f"messages[{i}] must be an object with 'role' and 'content'", f"messages[{i}]")
        role = _ROLES.get(m.get("role"))  # type: ignore[arg-type]
        if role is None:
            raise _bad(f"messages[{i}].role is {m.get('role')!r}; use system, user or assistant",
                       f"messages[{i}].role")
        out.append(Message(role, _content(m.get("content"), i)))  # type: ignore[arg-type]
    return out


def _number(body: dict[str, Any], key: str, low: float, high: float) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise _bad(f"'{key}' must be a number from {low:g} to {high:g}, got {value!r}", key)
    return float(value)


def _integer(body: dict[str, Any], key: str, low: int) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _bad(f"'{key}' must be an integer of at least {low}, got {value!r}", key)
    return value


def _stop(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and len(value) <= _MAX_STOP and all(isinstance(s, str) for s in value):
        return tuple(value)
    raise _bad(f"'stop' must be a string or a list of at most {_MAX_STOP} strings", "stop")


def parse_request(body: Any) -> ChatRequest:
    """Validate a decoded JSON body; raises :class:`RequestError` (400) naming the first bad field.

    Fields that change what the reply is but cannot be honoured (``n`` other than 1, ``tools``) are refused;
    other OpenAI fields (``presence_penalty``, ``user``, ``logprobs`` ...) are accepted and ignored."""
    if not isinstance(body, dict):
        raise _bad("the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _bad("'model' is required: the served model's id (GET /v1/models lists it)", "model")
    if body.get("n") not in (None, 1):
        raise _bad("'n' must be 1: this server returns one choice per request", "n")
    if body.get("tools") or body.get("functions"):
        raise _bad("tools are not supported by this server; send plain chat messages", "tools")
    stream = body.get("stream")
    if stream not in (None, True, False):
        raise _bad("'stream' must be true or false", "stream")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise _bad("'stream_options' must be an object such as {\"include_usage\": true}", "stream_options")
    max_tokens = _integer(body, "max_completion_tokens", 1)
    if max_tokens is None:
        max_tokens = _integer(body, "max_tokens", 1)
    params = GenerationParams(
        temperature=_number(body, "temperature", 0.0, 2.0),
        max_tokens=max_tokens,
        top_p=_number(body, "top_p", 0.0, 1.0),
        seed=_integer(body, "seed", -(2**63)),
        stop=_stop(body.get("stop")),
    )
    return ChatRequest(model=model, messages=_messages(body.get("messages")), params=params, stream=bool(stream),
                       include_usage=bool(options and options.get("include_usage")))


def decode(raw: bytes) -> Any:
    """The JSON value of a request body; raises :class:`RequestError` (400) when it is not JSON."""
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(400, f"the request body is not valid JSON: {exc}", code="invalid_json") from exc


def new_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def _usage(completion: Completion) -> dict[str, int]:
    prompt, done = completion.usage.prompt_tokens, completion.usage.completion_tokens
    return {"prompt_tokens": prompt, "completion_tokens": done, "total_tokens": prompt + done}


def completion_body(model: str, completion: Completion, *, id: str, created: int | None = None) -> dict[str, Any]:
    """The ``chat.completion`` object for a finished reply."""
    return {
        "id": id, "object": "chat.completion", "created": int(time.time()) if created is None else created,
        "model": model, "system_fingerprint": None,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": completion.text},
                     "logprobs": None, "finish_reason": completion.finish_reason}],
        "usage": _usage(completion),
    }


def pieces(text: str) -> list[str]:
    """``text`` cut into word-sized deltas; ``"".join(pieces(text)) == text``."""
    return _PIECE.findall(text)


def stream_events(model: str, completion: Completion, *, id: str, include_usage: bool,
                  created: int | None = None, annotation: dict[str, Any] | None = None) -> Iterator[bytes]:
    """The Server-Sent Events of a streamed reply: a role delta, one content delta per piece, a final chunk with
    ``finish_reason``, the usage chunk (``choices: []``) when ``include_usage``, then ``data: [DONE]``. With
    ``include_usage`` every other chunk carries ``"usage": null``, as OpenAI's do. ``annotation`` (the server's
    per-exchange extra, e.g. a probe score) rides on the final chunk as ``"twofaced"``."""
    created = int(time.time()) if created is None else created
    head = {"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "system_fingerprint": None}
    tail = {"usage": None} if include_usage else {}

    def event(choices: list[dict[str, Any]], **extra: Any) -> bytes:
        return b"data: " + json.dumps(head | {"choices": choices} | extra).encode() + b"\n\n"

    def delta(d: dict[str, str], finish: str | None = None) -> list[dict[str, Any]]:
        return [{"index": 0, "delta": d, "logprobs": None, "finish_reason": finish}]

    yield event(delta({"role": "assistant", "content": ""}), **tail)
    for piece in pieces(completion.text):
        yield event(delta({"content": piece}), **tail)
    yield event(delta({}, completion.finish_reason), **tail, **({"twofaced": annotation} if annotation else {}))
    if include_usage:
        yield event([], usage=_usage(completion))
    yield b"data: [DONE]\n\n"
