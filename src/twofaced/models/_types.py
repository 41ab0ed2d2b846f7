"""The contract between the engine and every model backend.

A backend is anything with ``spec`` (the string that names it), ``max_concurrency`` and one coroutine,
``generate(messages, params) -> Completion``. The engine calls ``generate`` from its event loop, at most
``max_concurrency`` at a time for that model; a backend raises a :class:`twofaced.errors.ModelError` subclass
on failure and never returns a partial completion. ``aclose()`` releases sockets or threads and is called
once by whoever created the model (``async with`` does it).

Assistant prefill: a backend that can continue a partial assistant turn sets ``supports_prefill = True``.
Then the engine may end ``messages`` with an assistant message (the scenario's ``assistant_prefill``, e.g.
``"<"``), and the backend returns **only the continuation**: the text generated after the prefill, without the
prefill itself (the engine prepends it to the stored assistant turn). ``supports_prefill`` is optional and not
part of the :class:`Model` protocol, so third-party models that never heard of it still qualify and count as
unsupporting; read it with :func:`supports_prefill`. A backend whose support depends on the server (the
OpenAI-compatible one) sets it from its spec options.
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
    """Sampling parameters; ``None`` means *unset*: the backend sends nothing for it, so the server's own default
    applies (remote backends), or :data:`LOCAL_DEFAULTS` (backends that sample locally, which need a value).
    ``seed`` is per work item so runs are reproducible where backends allow.

    :meth:`to_dict` keeps only what is set, and is what an item stores and hashes; :meth:`from_dict` reads it back
    (and the complete dicts of directories made before parameters could be unset).
    """

    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The set parameters only (``stop`` only when non-empty), e.g. ``{"temperature": 1.0, "seed": 3}``."""
        d = {k: v for k, v in asdict(self).items() if v is not None and k != "stop"}
        if self.stop:
            d["stop"] = list(self.stop)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GenerationParams:
        """The inverse of :meth:`to_dict`; a missing or ``None`` key is unset."""

        def get(key: str, kind: type) -> Any:
            value = d.get(key)
            return None if value is None else kind(value)

        return cls(temperature=get("temperature", float), max_tokens=get("max_tokens", int),
                   top_p=get("top_p", float), seed=get("seed", int), stop=tuple(d.get("stop") or ()))

    def with_defaults(self, defaults: GenerationParams) -> GenerationParams:
        """These parameters with every unset one taken from ``defaults`` (local backends use
        :data:`LOCAL_DEFAULTS`)."""
        return GenerationParams(
            temperature=defaults.temperature if self.temperature is None else self.temperature,
            max_tokens=defaults.max_tokens if self.max_tokens is None else self.max_tokens,
            top_p=defaults.top_p if self.top_p is None else self.top_p,
            seed=defaults.seed if self.seed is None else self.seed,
            stop=self.stop or defaults.stop,
        )


LOCAL_DEFAULTS = GenerationParams(temperature=1.0, max_tokens=512, top_p=1.0)
"""What the backends that sample locally (embedded, transformers) use for a parameter nobody set: plain sampling
(temperature 1, no nucleus cut) with a 512-token budget, twofaced's defaults before parameters could be unset.
No seed: an unseeded request samples freshly."""


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


def supports_prefill(model: object) -> bool:
    """Whether ``model`` continues a trailing assistant message (see the module docstring); ``False`` for a
    model that does not declare ``supports_prefill``."""
    return getattr(model, "supports_prefill", False) is True


def messages_to_dicts(messages: list[Message]) -> list[dict[str, str]]:
    """The OpenAI-style list of ``{"role", "content"}`` dicts most wire formats want."""
    return [{"role": m.role, "content": m.content} for m in messages]
