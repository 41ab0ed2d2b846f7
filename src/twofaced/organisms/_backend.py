"""The ``organism:NAME`` model backend, registered from here so that ``models/`` never imports ``organisms/``.

twofaced declares this module's :func:`register` as its own entry point in the ``twofaced`` group
(``[project.entry-points.twofaced] organisms = ...`` in pyproject.toml); the models registry loads that group
when a spec misses or the backends are listed, so ``organism:tier-faker`` resolves like any built-in. The
organism itself (adapter, base GGUF, llama.cpp or torch) is loaded only when a spec is turned into a model.
"""

from __future__ import annotations

from typing import Any

from ..models import Model, register_backend


def _organism(name: str, options: dict[str, Any]) -> Model:
    from . import load_organism_model

    options.pop("base_url", None)
    model: Model = load_organism_model(name, **options)
    return model


def register() -> None:
    """Called once by plugin discovery (``twofaced._util._plugins.load_plugins``); registers ``organism``."""
    register_backend("organism", "organism:NAME", "a model organism (known faker or control); ?backend=torch")(
        _organism)
