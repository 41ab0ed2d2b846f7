"""The contract between the engine and every model backend.

A backend is anything with ``spec`` (the string that names it), ``max_concurrency`` and one coroutine,
``generate(messages, params) -> Completion``. The engine calls ``generate`` from its event loop, at most
``max_concurrency`` at a time for that model; a backend raises a :class:`twofaced.errors.ModelError` subclass
on failure and never returns a partial completion. ``aclose()`` releases sockets or threads and is called
once by whoever created the model (``async with`` does it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class Message:
    """One chat turn."""

    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class GenerationParams:
    """Sampling parameters. ``seed`` is per work item so runs are reproducible where backends allow."""

    temperature: float = 1.0
    max_tokens: int = 512
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stop"] = list(self.stop)
        return d


@dataclass(slots=True)
class Usage:
    """Token counts as the backend reported them (0 where it reports nothing)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __iadd__(self, other: Usage) -> Usage:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        return self


@dataclass(slots=True)
class Completion:
    """What a model returned for one request: text, why it stopped, and what it cost."""

    text: str
    finish_reason: str = "stop"
    usage: Usage = field(default_factory=Usage)


@runtime_checkable
class Model(Protocol):
    """One async method in, one completion out. See the module docstring for the caller's duties."""

    spec: str
    max_concurrency: int

    async def generate(self, messages: list[Message], params: GenerationParams) -> Completion: ...

    async def aclose(self) -> None: ...


def messages_to_dicts(messages: list[Message]) -> list[dict[str, str]]:
    """The OpenAI-style list of ``{"role", "content"}`` dicts most wire formats want."""
    return [{"role": m.role, "content": m.content} for m in messages]
