"""Kinks: points where a layer's function is continuous but its derivative jumps.

A finite difference (f(θ + h) − f(θ − h)) / 2h that straddles a kink averages two slopes and is
not the derivative; CS231n ("Gradient checks — kinks in the objective") advises to keep track of
the "winners" of every max(x, y) during the ± evaluations and to distrust a coordinate whose
winners changed. This module knows the kinks of the usual layers, found by class name along the
MRO (so trainwell's own activations and subclasses count), and records a *pattern* — which side
of each kink every element is on — in a forward hook:

    elementwise      ReLU, LeakyReLU, PReLU, RReLU (0); ReLU6 (0, 6); Hardtanh (min_val, max_val);
                     ELU with α ≠ 1 and SELU (0); Hardsigmoid, Hardswish (−3, 3); Threshold (its
                     threshold); Hardshrink, Softshrink (±λ)       pattern: [x > k for each kink k]
    max-like         MaxPool1/2/3d, AdaptiveMaxPool1/2/3d, MaxoutLinear, MaxoutConv
                     pattern: the index of the winner of every max

Two evaluations whose patterns differ lie on different sides of a kink. Kinks that a forward()
writes as functions (torch.relu, x.clamp(min=0), torch.max, abs) are invisible to hooks.

Example:
    >>> net = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    >>> tracker = KinkTracker(net)
    >>> tracker.names
    ['1 (ReLU)']
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

Pattern = Callable[[nn.Module, torch.Tensor], torch.Tensor]


def _sides(points: Callable[[nn.Module], tuple[float, ...]]) -> Pattern:
    def pattern(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([x > k for k in points(module)])

    return pattern


def _max_pool(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    if isinstance(module, nn.MaxPool1d):
        pool = F.max_pool1d_with_indices
    elif isinstance(module, nn.MaxPool2d):
        pool = F.max_pool2d_with_indices
    else:
        pool = F.max_pool3d_with_indices
    return pool(x, module.kernel_size, module.stride, module.padding, module.dilation,
                ceil_mode=module.ceil_mode, return_indices=True)[1]


def _adaptive_max_pool(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    if isinstance(module, nn.AdaptiveMaxPool1d):
        pool = F.adaptive_max_pool1d
    elif isinstance(module, nn.AdaptiveMaxPool2d):
        pool = F.adaptive_max_pool2d
    else:
        pool = F.adaptive_max_pool3d
    return pool(x, module.output_size, return_indices=True)[1]


def _maxout(inner: str) -> Pattern:
    def pattern(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        z = getattr(module, inner)(x)
        return z.unflatten(1, (z.shape[1] // module.k, module.k)).argmax(dim=2)

    return pattern


ZERO = _sides(lambda m: (0.0,))
KINKS: dict[str, Pattern | None] = {
    "ReLU": ZERO, "LeakyReLU": ZERO, "PReLU": ZERO, "RReLU": ZERO, "SELU": ZERO,
    "ReLU6": _sides(lambda m: (0.0, 6.0)),
    "Hardtanh": _sides(lambda m: (m.min_val, m.max_val)),
    "Hardsigmoid": _sides(lambda m: (-3.0, 3.0)),
    "Hardswish": _sides(lambda m: (-3.0, 3.0)),
    "Threshold": _sides(lambda m: (m.threshold,)),
    "Hardshrink": _sides(lambda m: (-m.lambd, m.lambd)),
    "Softshrink": _sides(lambda m: (-m.lambd, m.lambd)),
    "MaxPool1d": _max_pool, "MaxPool2d": _max_pool, "MaxPool3d": _max_pool,
    "AdaptiveMaxPool1d": _adaptive_max_pool, "AdaptiveMaxPool2d": _adaptive_max_pool,
    "AdaptiveMaxPool3d": _adaptive_max_pool,
    "MaxoutLinear": _maxout("linear"), "MaxoutConv": _maxout("conv"),
}


def kink_pattern(module: nn.Module) -> Pattern | None:
    """The pattern function of `module`'s kinks, or None when it has none (ELU with α = 1 is C¹)."""
    for cls in type(module).__mro__:
        if cls.__name__ == "ELU":
            return ZERO if getattr(module, "alpha", 1.0) != 1.0 else None
        if cls.__name__ in KINKS:
            return KINKS[cls.__name__]
    return None


class KinkTracker:
    """Forward hooks on every kinked submodule of `model` that record the pattern of each call.

    `start()` clears the record, `patterns()` returns it (a list, in call order); `remove()`
    takes the hooks off. `names` lists the kinked submodules ("name (Class)"); `untracked` those
    whose pattern could not be computed (an input the pattern function does not handle): their
    crossings go unseen."""

    def __init__(self, model: nn.Module):
        self.names: list[str] = []
        self.untracked: list[str] = []
        self._record: list[torch.Tensor] = []
        self._handles = []
        for name, module in model.named_modules():
            pattern = kink_pattern(module)
            if pattern is not None:
                self.names.append(f"{name or 'model'} ({type(module).__name__})")
                self._handles.append(module.register_forward_hook(self._hook(pattern, self.names[-1])))

    def _hook(self, pattern: Pattern, name: str):
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            try:
                with torch.no_grad():
                    self._record.append(pattern(module, inputs[0]))
            except Exception:  # noqa: BLE001 — an unusual input: keep checking, report the layer as untracked
                if name not in self.untracked:
                    self.untracked.append(name)

        return hook

    def start(self) -> None:
        self._record = []

    def patterns(self) -> list[torch.Tensor]:
        return list(self._record)

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


def same_side(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    """True when two evaluations' patterns agree everywhere (no kink between them)."""
    return len(a) == len(b) and all(x.shape == y.shape and torch.equal(x, y) for x, y in zip(a, b))


__all__ = ["KINKS", "KinkTracker", "kink_pattern", "same_side"]
