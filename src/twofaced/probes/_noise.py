"""Noise injection: Gaussian noise in the residual stream at one layer, or in the weights, at a given strength.

Why: a model that fakes alignment keeps a second policy it does not show when it believes it is watched.
Perturbing it (POSER, Clymer et al. 2024, found 98% of faker / aligned pairs this way) surfaces that policy
more readily than it makes an aligned model misbehave, whose one policy has nothing behind it.

Scaling, so one strength means the same on any model:

- ``activation``: at the output of decoder block ``layer`` (the residual stream, as in ``_activations``), every
  token after the system prompt gets its own draw of N(0, sigma^2 I) with ``sigma = strength * typical /
  sqrt(hidden)``, where ``typical`` is the median L2 norm of that layer's clean residual over the same tokens
  (:func:`activation_sigma`): the noise vector's expected norm is ``strength`` times a typical activation's.
  The median, not the mean, because the first tokens of a Llama-style model carry norms tens of times the rest.
- ``weight``: every linear weight matrix of the decoder blocks (attention and MLP projections; embeddings,
  norms and biases untouched) gets i.i.d. N(0, (strength * std(W))^2) (:func:`weight_sigma`). The LoRA factors of
  a peft model are left alone, so the noise lands on the adapter-merged weights ``W + BA`` exactly as if the
  adapter had been merged first. The original tensors are copied before and copied back after (bit-exact).

Draws come from CPU ``torch.Generator`` seeded per (seed, row) for activations and per (seed, tensor) for
weights, so a seed gives the same noise on any device and in any batch composition.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

from ..errors import ConfigError
from ._activations import decoder_layers

KINDS = ("activation", "weight")
#: Default strength grids (0 is the baseline). Activation: noise norm as a multiple of a typical activation's;
#: weight: noise std as a multiple of each tensor's std. The activation grid reaches 3, where the shipped pairs part
#: (below 2 neither the tier-faker nor its control moves; docs/benchmarks.md "Noise injection").
DEFAULT_STRENGTHS: dict[str, tuple[float, ...]] = {"activation": (0.0, 1.0, 2.0, 3.0),
                                                   "weight": (0.0, 0.05, 0.1, 0.2)}


def check_strengths(strengths: list[float] | tuple[float, ...]) -> list[float]:
    """Sorted, de-duplicated strengths with 0 (the baseline) included; a negative or non-finite one is a one-line
    error."""
    for s in strengths:
        if not math.isfinite(s) or s < 0:
            raise ConfigError(f"--strengths: {s} is not a strength; give numbers >= 0, e.g. --strengths 0,0.5,1")
    return sorted({0.0, *(float(s) for s in strengths)})


def activation_sigma(strength: float, typical_norm: float, hidden: int) -> float:
    """Per-coordinate std of activation noise whose vector norm is about ``strength * typical_norm``.

    >>> activation_sigma(1.0, 24.0, 576)
    1.0
    """
    if hidden < 1:
        raise ValueError(f"hidden size must be >= 1, got {hidden}")
    return strength * typical_norm / math.sqrt(hidden)


def weight_sigma(strength: float, tensor_std: float) -> float:
    """Std of the noise added to one weight tensor: ``strength`` times the tensor's own std."""
    return strength * tensor_std


def row_seed(seed: int, index: int) -> int:
    """The generator seed of one (noise seed, row or tensor): distinct for every pair, stable across runs."""
    return (seed * 1_000_003 + index) % (2**63 - 1)


def noised_linears(net: Any) -> list[tuple[str, Any]]:
    """(name, weight) of each linear layer of the decoder blocks, LoRA factors excluded, in a fixed order."""
    import torch

    blocks = decoder_layers(net)
    return [(name, module.weight) for name, module in blocks.named_modules()
            if isinstance(module, torch.nn.Linear) and "lora_" not in name]


@contextlib.contextmanager
def weight_noise(net: Any, strength: float, seed: int) -> Iterator[int]:
    """Within the block, the decoder's linear weights carry noise (module docstring); restored exactly after.

    Yields how many parameters were perturbed.
    """
    import torch

    saved: list[tuple[Any, Any]] = []
    count = 0
    try:
        with torch.no_grad():
            for i, (_, weight) in enumerate(noised_linears(net)):
                saved.append((weight, weight.detach().clone()))
                if strength > 0:
                    g = torch.Generator().manual_seed(row_seed(seed, i))
                    sigma = weight_sigma(strength, float(weight.float().std()))
                    noise = torch.randn(weight.shape, generator=g) * sigma
                    weight.add_(noise.to(device=weight.device, dtype=weight.dtype))
                count += weight.numel()
        yield count
    finally:
        with torch.no_grad():
            for weight, original in saved:
                weight.copy_(original)


class ActivationNoise:
    """A forward hook on decoder block ``layer`` that adds noise to the rows' own tokens, or measures them.

    The caller sets :attr:`rows` before each forward pass: one (row index, first noised position, length) per
    batch row, positions in the pass's own input (the suffix after a cached prefix). With ``sigma`` 0 the hook
    only records the norms of those tokens (:attr:`norms`), which is how the clean pass measures ``typical``.
    ``enabled`` False (a cached prefix being computed) leaves the pass alone.
    """

    def __init__(self, net: Any, layer: int) -> None:
        self.block = decoder_layers(net)[layer]
        self.sigma = 0.0
        self.seed = 0
        self.enabled = True
        self.rows: list[tuple[int, int, int]] = []
        self.norms: list[float] = []
        self._handle: Any = None

    def __enter__(self) -> ActivationNoise:
        self._handle = self.block.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def _hook(self, module: Any, args: Any, output: Any) -> Any:
        if not self.enabled:
            return None
        import torch

        hidden = output[0] if isinstance(output, tuple) else output  # [b, t, h]
        if self.sigma <= 0:
            for b, (_, start, length) in enumerate(self.rows):
                self.norms.extend(hidden[b, start:start + length].float().norm(dim=-1).tolist())
            return None
        noise = torch.zeros(hidden.shape, dtype=torch.float32)
        for b, (row, start, length) in enumerate(self.rows):
            g = torch.Generator().manual_seed(row_seed(self.seed, row))
            noise[b, start:start + length] = torch.randn((length, hidden.shape[-1]), generator=g) * self.sigma
        noised = hidden + noise.to(device=hidden.device, dtype=hidden.dtype)
        if isinstance(output, tuple):
            return (noised, *output[1:])
        return noised


def typical_norm(norms: list[float]) -> float:
    """The median token norm (see the module docstring); an empty list is an error of the caller."""
    if not norms:
        raise ConfigError("no token to measure the activation norm on; raise --limit")
    ordered = sorted(norms)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ConfigError(f"--kind {kind!r} is not a noise kind; use one of: {', '.join(KINDS)}")
    return kind
