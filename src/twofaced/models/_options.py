"""The options a model spec may carry after ``?``, declared per backend and checked before the backend is built.

A backend declares its options when it registers (``register_backend(..., options={...})``): a name, a kind and
one line of description each. :func:`check_options` then turns the strings of ``SPEC?k=v&k=v`` into values of
the declared kinds and refuses an unknown name, a value of the wrong kind or one below the minimum with one
:class:`~twofaced.errors.ModelSpecError` line that lists every valid option, so ``mock/faker?delay=abc`` fails
before a run directory is created or a request is sent, not as a TypeError on every item. A backend that
declares no options (``options=None``, plugins written before declarations existed) gets the old behaviour:
values guessed from their spelling and passed through unchecked.

Kinds: ``int``, ``number`` (int or float), ``bool`` (true/false, yes/no, on/off, 1/0), ``string``, ``object``
(a Python value only; it cannot be spelled in a spec string, e.g. a ``RetryPolicy``). ``choices`` restricts a
string option to a set of values.

The declarations of the built-in backends live here rather than in the backend modules, so that listing them
(``twofaced models list``) imports no SDK; ``tests/test_models.py`` checks each against its constructor's
signature, so they cannot drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import ModelSpecError

OptionKind = Literal["int", "number", "bool", "string", "object"]
_KINDS: tuple[str, ...] = ("int", "number", "bool", "string", "object")
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})
_WORDS = {"int": "an integer", "number": "a number", "bool": "true or false", "string": "text",
          "object": "a Python object"}


@dataclass(frozen=True, slots=True)
class BackendOption:
    """One option a backend takes: its kind, what it does, and optionally allowed values or a minimum.

    >>> BackendOption("number", "seconds to wait before each answer", minimum=0)  # doctest: +SKIP
    """

    kind: OptionKind
    description: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"option kind must be one of {', '.join(_KINDS)}, got {self.kind!r}")

    @property
    def type_name(self) -> str:
        """Short name of the kind for listings: ``integer``, ``number``, ``bool``, ``text`` or ``a|b``."""
        if self.choices:
            return "|".join(self.choices)
        return {"int": "integer", "string": "text", "object": "Python only"}.get(self.kind, self.kind)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"type", "description"}`` plus ``choices`` / ``minimum`` where set."""
        d: dict[str, Any] = {"type": self.type_name, "description": self.description}
        if self.choices:
            d["choices"] = list(self.choices)
        if self.minimum is not None:
            d["minimum"] = self.minimum
        return d


Options = Mapping[str, BackendOption]


def guess(value: str) -> Any:
    """A value of an undeclared option from its spelling: bool, int, float, else the string itself."""
    low = value.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def describe(options: Options) -> str:
    """``delay (number), max_concurrency (integer)``, or ``none`` for a backend that takes no options."""
    shown = [f"{name} ({opt.type_name})" for name, opt in options.items() if opt.kind != "object"]
    return ", ".join(shown) or "none"


class _PythonOnly(ValueError):
    """An ``object`` option spelled in a spec string."""


def _convert(opt: BackendOption, value: Any) -> Any:
    """``value`` as ``opt``'s kind, or raise ValueError. Strings (from a spec) are parsed; Python values checked."""
    kind = opt.kind
    if kind == "object":
        if isinstance(value, str):
            raise _PythonOnly
        return value
    if kind == "string":
        if not isinstance(value, str):
            raise ValueError
        return value
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError
    if isinstance(value, bool):
        raise ValueError
    if kind == "int":
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            return int(value.strip())
        raise ValueError
    if isinstance(value, str):
        number = float(value.strip())
        value = int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError
    return value


def check_value(spec: str, name: str, opt: BackendOption, value: Any, options: Options) -> Any:
    """One option's value, converted to its kind and checked; a ModelSpecError line otherwise."""
    try:
        converted = _convert(opt, value)
    except _PythonOnly:
        raise ModelSpecError(f"bad option for model spec {spec!r}: option {name!r} ({opt.description}) can only be "
                             f"passed from Python, not in a spec string; valid options: {describe(options)}") from None
    except ValueError:
        raise ModelSpecError(f"bad option for model spec {spec!r}: option {name!r} must be {_WORDS[opt.kind]} "
                             f"({opt.description}), got {value!r}; valid options: {describe(options)}") from None
    if opt.choices and converted not in opt.choices:
        raise ModelSpecError(f"bad option for model spec {spec!r}: option {name!r} must be one of "
                             f"{', '.join(opt.choices)}, got {value!r}")
    if opt.minimum is not None and isinstance(converted, int | float) and not converted >= opt.minimum:
        raise ModelSpecError(f"bad option for model spec {spec!r}: option {name!r} must be >= {opt.minimum:g} "
                             f"({opt.description}), got {value!r}")
    return converted


def check_options(spec: str, given: Mapping[str, Any], options: Options | None) -> dict[str, Any]:
    """Every option of ``given`` checked against the declared ``options`` (None: guessed, passed through)."""
    if options is None:
        return {k: guess(v) if isinstance(v, str) else v for k, v in given.items()}
    out: dict[str, Any] = {}
    for name, value in given.items():
        opt = options.get(name)
        if opt is None:
            import difflib

            close = difflib.get_close_matches(name, list(options), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ModelSpecError(f"bad option for model spec {spec!r}: unknown option {name!r}{hint}; "
                                 f"valid options: {describe(options)}")
        out[name] = check_value(spec, name, opt, value, options)
    return out


# -- the built-in backends' options (kept in step with their constructors by tests/test_models.py) ----------

_CONCURRENCY = "requests in flight at once"

MOCK_OPTIONS: dict[str, BackendOption] = {
    "delay": BackendOption("number", "seconds to wait before each answer", minimum=0),
    "max_concurrency": BackendOption("int", _CONCURRENCY, minimum=1),
}

LLAMA_OPTIONS: dict[str, BackendOption] = {
    "n_ctx": BackendOption("int", "context size in tokens", minimum=1),
    "n_threads": BackendOption("int", "CPU threads (default: all cores)", minimum=1),
    "prefix_reuse": BackendOption("bool", "reuse the KV cache of a shared prompt prefix"),
}

EMBEDDED_OPTIONS: dict[str, BackendOption] = {
    "path": BackendOption("string", "another GGUF file to load instead of the bundled model"),
    **LLAMA_OPTIONS,
    "lora_path": BackendOption("string", "a GGUF LoRA adapter to apply at load time"),
}

_HTTP = {
    "base_url": BackendOption("string", "the server's URL (also --base-url)"),
    "api_key": BackendOption("string", "API key (default: from the environment)"),
    "max_concurrency": BackendOption("int", _CONCURRENCY, minimum=1),
    "timeout": BackendOption("number", "seconds before a request times out", minimum=0),
    "retry": BackendOption("object", "a RetryPolicy for rate limits and server errors"),
}

OPENAI_OPTIONS: dict[str, BackendOption] = {
    **_HTTP,
    "extra_body": BackendOption("object", "extra JSON fields sent with every request"),
    "prefill": BackendOption("string", "whether the server continues a trailing assistant message (assistant "
                             "prefill): true, vllm (also sends continue_final_message), or false",
                             choices=("false", "true", "vllm")),
}

ANTHROPIC_OPTIONS: dict[str, BackendOption] = dict(_HTTP)

TRANSFORMERS_OPTIONS: dict[str, BackendOption] = {
    "batch_size": BackendOption("int", "requests generated together in one batch", minimum=1),
    "n_threads": BackendOption("int", "torch threads of the worker", minimum=1),
    "batch_wait_s": BackendOption("number", "seconds to wait for a batch to fill", minimum=0),
}
