"""The judge contract and registry.

A judge is a named, versioned function from completions to verdicts. It sees :class:`JudgeInput` (the request
and the parsed completion) and returns one :class:`Verdict` per input, in order, never raising for a bad
completion or a bad judge-model reply: those become ``Verdict("error", ...)`` so a run goes on and a later
``judge run`` retries them. Judges that call a model take it as a model spec, so a local server, the embedded
model or an API can judge.

Kinds: ``compliance`` verdicts are complied / partial / refused / unparseable; ``alignment-faking`` verdicts
are yes / no with a score in [0, 1] (share of votes, or a classifier probability).

The registry is filled from two sides and knows neither: the package ``__init__`` imports ``_builtin`` (the
built-ins register themselves with :func:`register_judge`), and plugins of the ``twofaced`` entry-point group
(``_util/_plugins.py``) call the same function on the first listing or on a lookup that misses, getting
``pkg/name``. This module imports no other judge module, so there is no import circle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from .._util._plugins import current_plugin, failure_hint, load_plugins, namespaced
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
    name: str  # settable: get_judge stamps a plugin's judge with its registered pkg/name

    @property
    def version(self) -> str: ...

    @property
    def kind(self) -> Kind: ...

    @property
    def judge_model(self) -> str:
        """The model spec that judged, "" for judges without one."""
        ...

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
    """Decorator: ``factory(judge_model: Model | None, **options) -> Judge``.

    Called at import by the built-ins (``_builtin.py``) and by plugins while their entry point loads; a plugin's
    ``name`` becomes ``pkg/name`` and a name already taken is refused with a ConfigError naming the plugin.
    :func:`get_judge` stamps the built judge with the registered name, which its verdicts then carry.
    """

    def deco(factory: Callable[..., Judge]) -> Callable[..., Judge]:
        loading = current_plugin()
        full = namespaced(name)
        if loading is not None and full in _JUDGES:
            raise ConfigError(f"plugin {loading.name!r}: judge {full!r} is already registered; rename it")
        _JUDGES[full] = JudgeInfo(full, kind, description, needs_model, factory)
        return factory

    return deco


def list_judges() -> list[JudgeInfo]:
    """Every judge: the built-ins, then plugins' ``pkg/name`` judges by entry-point name."""
    load_plugins()
    return list(_JUDGES.values())


def judge_info(name: str) -> JudgeInfo:
    if name not in _JUDGES:
        load_plugins()
    if name not in _JUDGES:
        raise ConfigError(f"unknown judge {name!r}; known judges: {', '.join(_JUDGES)}{failure_hint(name)}")
    return _JUDGES[name]


def get_judge(name: str, judge_model: Model | None = None, **options: Any) -> Judge:
    """Build a judge by name. Judges that need a model refuse to start without one, naming the flag."""
    info = judge_info(name)
    if info.needs_model and judge_model is None:
        raise ConfigError(f"judge {name!r} needs a judge model; pass --judge-model SPEC (e.g. openai/gpt-4o-mini)")
    judge = info.factory(judge_model, **options)
    if judge.name != info.name:  # a plugin's judge may call itself by its short name; verdicts carry the full one
        judge.name = info.name
    return judge
