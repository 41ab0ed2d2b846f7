"""Who answers: one async protocol and the backends behind model spec strings.

See ``_registry.py`` for the spec forms and ``_types.py`` for the contract every backend keeps.
"""

from ._options import BackendOption
from ._registry import BackendInfo, canonical_spec, get_model, list_backends, parse_spec, register_backend
from ._retry import RetryPolicy
from ._types import LOCAL_DEFAULTS, Completion, GenerationParams, Message, Model, Usage, supports_prefill

__all__ = [
    "LOCAL_DEFAULTS",
    "BackendInfo",
    "BackendOption",
    "Completion",
    "GenerationParams",
    "Message",
    "Model",
    "RetryPolicy",
    "Usage",
    "canonical_spec",
    "get_model",
    "list_backends",
    "parse_spec",
    "register_backend",
    "supports_prefill",
]
