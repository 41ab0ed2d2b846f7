"""Interoperation with Inspect AI (extra ``inspect``): the ``twofaced/paired`` task, the ``twofaced/SPEC``
model provider, and importing an Inspect eval log into a twofaced run directory. See docs/interop.md.

Importing this package does not import ``inspect_ai``; the task objects load on first access.
"""

from __future__ import annotations

from typing import Any

from ._inspect_import import import_inspect_log

__all__ = ["compliance_gap", "import_inspect_log", "paired", "twofaced_compliance"]

_TASK_NAMES = ("compliance_gap", "paired", "twofaced_compliance")


def __getattr__(name: str) -> Any:
    if name in _TASK_NAMES:
        from ..errors import missing_extra

        try:
            from . import _inspect_task
        except ImportError as exc:
            if getattr(exc, "name", "") and str(exc.name).startswith("inspect_ai"):
                raise missing_extra("inspect-ai", "inspect") from exc
            raise
        return getattr(_inspect_task, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
