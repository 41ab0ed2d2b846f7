"""The ``organism:NAME`` model backend, registered from here so that ``models/`` never imports ``organisms/``.

twofaced declares this module's :func:`register` as its own entry point in the ``twofaced`` group
(``[project.entry-points.twofaced] organisms = ...`` in pyproject.toml); the models registry loads that group
when a spec misses or the backends are listed, so ``organism:tier-faker`` resolves like any built-in. The
organism itself (adapter, base GGUF, llama.cpp or torch) is loaded only when a spec is turned into a model.

Options: ``backend`` (llama or torch), then those of the engine it picks (llama.cpp: ``n_ctx``, ``n_threads``,
``prefix_reuse``; transformers: ``batch_size``, ``n_threads``, ``batch_wait_s``). The registry checks names and
kinds; the factory refuses an option of the other engine before anything loads.
"""

from __future__ import annotations

from typing import Any

from ..errors import ModelSpecError
from ..models import BackendOption, Model, register_backend
from ..models._options import LLAMA_OPTIONS, TRANSFORMERS_OPTIONS

_ENGINES = {"llama": LLAMA_OPTIONS, "torch": TRANSFORMERS_OPTIONS}

ORGANISM_OPTIONS: dict[str, BackendOption] = {
    "backend": BackendOption("string", "llama.cpp (default) or transformers + peft", choices=("llama", "torch")),
    **{name: BackendOption(opt.kind, f"{opt.description}; {engine} only", opt.choices, opt.minimum)
       for engine, declared in _ENGINES.items() for name, opt in declared.items()
       if name not in _ENGINES["torch" if engine == "llama" else "llama"]},
    "n_threads": BackendOption("int", "CPU threads (llama.cpp) or torch threads (torch)", minimum=1),
}


def _organism(name: str, options: dict[str, Any]) -> Model:
    from . import load_organism_model

    options.pop("base_url", None)
    engine = options.get("backend", "llama")
    other = [k for k in options if k not in _ENGINES[engine] and k != "backend"]
    if other:
        raise ModelSpecError(f"bad option for model spec 'organism:{name}': option {other[0]!r} needs "
                             f"backend={'torch' if engine == 'llama' else 'llama'}; with backend={engine} the "
                             f"options are: {', '.join(['backend', *_ENGINES[engine]])}")
    model: Model = load_organism_model(name, **options)
    return model


def register() -> None:
    """Called once by plugin discovery (``twofaced._util._plugins.load_plugins``); registers ``organism``."""
    register_backend("organism", "organism:NAME", "a model organism (known faker or control); ?backend=torch",
                     options=ORGANISM_OPTIONS)(_organism)
