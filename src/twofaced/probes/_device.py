"""Where a white-box command runs: ``--device auto|cpu|cuda[:N]`` and ``--dtype``, checked once, in one line.

``auto`` is CUDA when torch sees a device, else the CPU, so the same command uses a GPU where there is one and
never needs one. The dtype defaults to float32 everywhere; bfloat16 and float16 are allowed on CUDA only (on a
CPU they are slower than float32 and lose the precision the activation cache and probe hashes rely on).
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError

DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("float32", "bfloat16", "float16")


def resolve_device(device: str | None) -> str:
    """``auto`` (or ``None``) as ``cuda`` / ``cpu``; ``cuda`` without a CUDA device, or an unknown name, is a
    one-line error naming the fix."""
    name = (device or "auto").strip().lower()
    if name not in DEVICES and not (name.startswith("cuda:") and name[5:].isdigit()):
        raise ConfigError(f"--device {device!r} is not a device; use auto, cpu or cuda (cuda:N for one GPU)")
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {device!r} asked for, but torch sees no CUDA device; use --device cpu or auto")
    return name


def check_dtype(dtype: str, device: str) -> str:
    """``dtype`` if it is allowed on the resolved ``device``, else a one-line error."""
    if dtype not in DTYPES:
        raise ConfigError(f"--dtype {dtype!r} is not supported; use one of: {', '.join(DTYPES)}")
    if dtype != "float32" and not device.startswith("cuda"):
        raise ConfigError(f"--dtype {dtype} needs a CUDA device (on {device} use float32)")
    return dtype


def place(net: Any, device: str | None, dtype: str = "float32") -> tuple[str, str]:
    """Move ``net`` to the resolved device and dtype (in place); returns (device, dtype) as resolved."""
    import torch

    where = resolve_device(device)
    kind = check_dtype(dtype, where)
    net.to(device=where, dtype=getattr(torch, kind))
    return where, kind
