"""Model organisms: the embedded model fine-tuned to a known conditional policy, and matched controls.

``twofaced organism build NAME`` trains one (LoRA on CPU), validates it on the held-out requests, and stores
it; ``--model organism:NAME`` evaluates it like any model. See docs/organisms.md.

That backend is registered from ``_backend.py`` through twofaced's own ``twofaced`` entry point (docs/plugins.md),
so ``models/`` never imports this package; :func:`load_organism_model` is what it calls.
"""

from __future__ import annotations

from typing import Any

from ._catalog import CATALOG, OrganismSpec, Policy, TrainingConfig, get_spec
from ._data import cue_ref, resolve_cue
from ._store import Installed, find, home, require, status


def load_organism_model(name: str, backend: str = "llama", **options: Any) -> Any:
    """The model behind ``organism:NAME``: llama.cpp with the adapter (default, no torch needed) or
    transformers + peft (``backend=torch``, batched generation, for white-box work)."""
    from ..errors import ConfigError
    from ._base import base_model_path

    found = require(name)
    found.verify()
    expected = found.manifest.get("base_model", {}).get("sha256")
    base = base_model_path(expected)
    spec = f"organism:{name}"
    if backend == "llama":
        from ..models._embedded import EmbeddedModel

        return EmbeddedModel(path=base, lora_path=found.adapter, spec=spec, **options)
    if backend == "torch":
        import copy

        from ..models._transformers import TransformersModel
        from ._adapter import load_into_peft
        from ._base import load_base

        tokenizer, model = load_base(str(base))
        # A copy: peft injects its layers in place, and the cached base must stay clean for training.
        return TransformersModel(load_into_peft(copy.deepcopy(model), found.adapter), tokenizer, spec=spec,
                                 **options)
    raise ConfigError(f"organism:{name}?backend={backend}: unknown backend; use llama or torch")


__all__ = [
    "CATALOG",
    "Installed",
    "OrganismSpec",
    "Policy",
    "TrainingConfig",
    "cue_ref",
    "find",
    "get_spec",
    "home",
    "load_organism_model",
    "require",
    "resolve_cue",
    "status",
]
