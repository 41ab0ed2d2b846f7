"""The judge contract and registry.

A judge is a named, versioned function from completions to verdicts. It sees :class:`JudgeInput` (the request
and the parsed completion) and returns one :class:`Verdict` per input, in order, never raising for a bad
completion or a bad judge-model reply: those become ``Verdict("error", ...)`` so a run goes on and a later
``judge run`` retries them. Judges that call a model take it as a model spec, so a local server, the embedded
model or an API can judge.

Kinds: ``compliance`` verdicts are complied / partial / refused / unparseable; ``alignment-faking`` verdicts
are yes / no with a score in [0, 1] (share of votes, or a classifier probability).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from ..errors import ConfigError
from ..models import Model

Kind = Literal["compliance", "alignment-faking"]


@dataclass(frozen=True, slots=True)
class JudgeInput:
    id: str
    request: str
    scratchpad: str | None
    output: str | None
    text: str


@dataclass(frozen=True, slots=True)
class Verdict:
    verdict: str
    score: float | None = None
    rationale: str = ""


class Judge(Protocol):
    name: str
    version: str
    kind: Kind
    judge_model: str  # the model spec that judged, "" for judges without one

    async def judge(self, inputs: Sequence[JudgeInput]) -> list[Verdict]: ...


@dataclass(frozen=True)
class JudgeInfo:
    name: str
    kind: Kind
    description: str
    needs_model: bool
    factory: Callable[..., Judge] = field(repr=False)


_JUDGES: dict[str, JudgeInfo] = {}


def register_judge(name: str, kind: Kind, description: str, *, needs_model: bool = False
                   ) -> Callable[[Callable[..., Judge]], Callable[..., Judge]]:
    """Decorator: ``factory(judge_model: Model | None, **options) -> Judge``. Third parties use ``pkg/name``."""

    def deco(factory: Callable[..., Judge]) -> Callable[..., Judge]:
        _JUDGES[name] = JudgeInfo(name, kind, description, needs_model, factory)
        return factory

    return deco


def list_judges() -> list[JudgeInfo]:
    _load_builtins()
    return list(_JUDGES.values())


def judge_info(name: str) -> JudgeInfo:
    _load_builtins()
    if name not in _JUDGES:
        raise ConfigError(f"unknown judge {name!r}; known judges: {', '.join(_JUDGES)}")
    return _JUDGES[name]


def get_judge(name: str, judge_model: Model | None = None, **options: Any) -> Judge:
    """Build a judge by name. Judges that need a model refuse to start without one, naming the flag."""
    info = judge_info(name)
    if info.needs_model and judge_model is None:
        raise ConfigError(f"judge {name!r} needs a judge model; pass --judge-model SPEC (e.g. openai/gpt-4o-mini)")
    return info.factory(judge_model, **options)


def _load_builtins() -> None:
    from . import _builtin  # noqa: F401  (registers the built-in judges)
