"""The plugin seam: the ``twofaced`` entry-point group, loaded once, lazily, by the registries that need it.

A package extends twofaced by declaring an entry point (docs/plugins.md)::

    [project.entry-points.twofaced]
    acme = "acme_twofaced:register"     # a callable, called once; or a module, imported once

Loading it runs the package's registrations through the same public functions the built-ins use
(``register_backend``, ``register_judge``, ``register_scenario``, ``register_cue_family``). While an entry point
loads, :func:`namespaced` files every name it registers under the entry point's name, ``acme/NAME``, so a plugin
can shadow neither a built-in nor another plugin. twofaced's own entry points (the ``organism:`` backend, which
lives in ``organisms/`` so that ``models/`` never imports upward) load first and without a namespace.

Invariants:
- discovery runs at most once per process, when a registry is first listed or a lookup misses; registries
  call :func:`load_plugins` and nothing else starts it;
- a plugin that fails (import error, bad registration) costs one line on stderr (logger ``twofaced.plugins``)
  and an entry in :func:`plugin_errors`, never a traceback and never a built-in;
- ``TWOFACED_PLUGINS`` (comma-separated entry-point names, empty for none) limits which third-party plugins
  load; twofaced's own always load.

This module sits in the bottom layer: it imports nothing from twofaced.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

GROUP = "twofaced"
OWN_DIST = "twofaced"
ENV = "TWOFACED_PLUGINS"

log = logging.getLogger("twofaced.plugins")


@dataclass(frozen=True)
class Loading:
    """The entry point being loaded: its name, its namespace (None for twofaced's own) and its distribution."""

    name: str
    namespace: str | None
    dist: str


_lock = threading.RLock()
_started = False
_current: Loading | None = None
_errors: dict[str, str] = {}


def load_plugins() -> None:
    """Load every entry point of the ``twofaced`` group, once per process; later calls return at once.

    Called by the registries (models, judges, scenarios) before they list names or after a lookup misses.
    A call made while plugins are loading (a plugin listing a registry) returns without waiting for the rest.
    """
    global _started
    with _lock:
        if _started:
            return
        _started = True
        eps = _ordered(list(entry_points(group=GROUP)))
        if not any(_dist_name(ep) == OWN_DIST for ep in eps):
            log.warning("warning: twofaced's own entry points are missing from its install metadata, so the "
                        "organism: backend is unavailable; reinstall twofaced (pip install -e .)")
        allowed = _allowed()
        for ep in eps:
            own = _dist_name(ep) == OWN_DIST
            if not own and allowed is not None and ep.name not in allowed:
                continue
            _load_one(ep, own)


def _load_one(ep: EntryPoint, own: bool) -> None:
    global _current
    dist = _dist_name(ep) or "?"
    if not own and ("/" in ep.name or ":" in ep.name or not ep.name):
        _fail(ep, dist, "its entry-point name must be a plain word (no '/' or ':'); rename it in its pyproject.toml")
        return
    _current = Loading(ep.name, None if own else ep.name, dist)
    try:
        obj = ep.load()
        if callable(obj):
            obj()
    except Exception as exc:  # a plugin's failure, of any kind, must not take the built-ins with it
        first = (str(exc).strip().splitlines() or [""])[0]
        _fail(ep, dist, f"{type(exc).__name__}: {first}" if first else type(exc).__name__)
    finally:
        _current = None


def _fail(ep: EntryPoint, dist: str, reason: str) -> None:
    fix = "reinstall twofaced (pip install -e .)" if dist == OWN_DIST else f"fix it or remove it (pip uninstall {dist})"
    _errors[ep.name] = f"twofaced plugin {ep.name!r} ({ep.value}) failed to load: {reason}; {fix}"
    log.warning("warning: %s", _errors[ep.name])


def _ordered(eps: list[EntryPoint]) -> list[EntryPoint]:
    seen: set[tuple[str, str]] = set()
    unique = []
    for ep in eps:
        if (ep.name, ep.value) not in seen:  # the same distribution found twice on sys.path
            seen.add((ep.name, ep.value))
            unique.append(ep)
    own = [ep for ep in unique if _dist_name(ep) == OWN_DIST]
    return own + sorted((ep for ep in unique if _dist_name(ep) != OWN_DIST), key=lambda ep: ep.name)


def _dist_name(ep: EntryPoint) -> str | None:
    dist = getattr(ep, "dist", None)
    name = getattr(dist, "name", None)
    return name.lower().replace("_", "-") if isinstance(name, str) else None


def _allowed() -> set[str] | None:
    value = os.environ.get(ENV)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def current_plugin() -> Loading | None:
    """The entry point whose registrations are running now, or None outside plugin loading.

    Registries use it to namespace names and to refuse a plugin name that collides with one already taken."""
    return _current


def namespaced(name: str) -> str:
    """``name`` as the registry should file it: ``pkg/name`` while plugin ``pkg`` loads, else unchanged.

    >>> namespaced("echo")
    'echo'
    """
    loading = _current
    if loading is None or loading.namespace is None or name.startswith(loading.namespace + "/"):
        return name
    return f"{loading.namespace}/{name}"


def plugin_errors() -> dict[str, str]:
    """One line per plugin that failed to load, keyed by its entry-point name."""
    return dict(_errors)


def failure_hint(name: str) -> str:
    """For an unknown ``pkg/name``: `` (<why plugin pkg failed>)`` when it did, else ``""``, so a lookup error
    names the broken plugin instead of only listing the names that exist."""
    head = name.partition("/")[0].partition(":")[0]
    return f" ({_errors[head]})" if head in _errors else ""

