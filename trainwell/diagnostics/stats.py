"""Per-layer statistics as pure tensor reductions that stay on the device.

Each function returns a small 1-D float32 tensor on the input's device — no `.item()`, no host
transfer. `trainwell.diagnostics.capture.LayerStats` concatenates them and reads them back once.

Activation summary of a layer output y (any shape N×C×…; dim 1 is the *unit* axis — features
of a Linear, channels of a conv — as in PyTorch's N, C, * convention):

    mean  = Σ y / n,  std = sqrt(Σ (y − mean)² / n)          (population std, over all elements)
    lo, hi = min y, max y                                     (this step's range, negatives included)
    counts[k] = #{ y : lo + k·w ≤ y < lo + (k+1)·w },  w = (hi − lo) / bins  (last bin closed)
    dead  = fraction of units u with y[n, u, …] ≤ 0 for every example n and position …
            (ReLU family only: the unit never fired on this batch, so it passes no gradient)
    saturated = fraction of elements in the flat tails (CS231n "saturated neurons kill gradients"):
            tanh family:    |y| > 0.99
            sigmoid family: y < 0.01 or y > 0.99

The histogram is computed without knowing lo/hi on the host: y is mapped on the device to
z = (y − lo)·bins/(hi − lo) ∈ [0, bins] and counted with `torch.histc(z, bins, 0, bins)`, whose
range is a Python constant (a data-dependent `histc` range, or `bincount`, would force a sync on
CUDA).

Statistics are computed in float32 whatever the input dtype (float16/bfloat16 under autocast).

Example:
    >>> y = torch.relu(torch.randn(8, 4))
    >>> v = activation_summary(y, "relu", bins=10)     # 4 + 1 + 10 numbers, still on y.device
    >>> dict(zip(activation_fields("relu"), v[:5].tolist()))  # doctest: +SKIP
"""
from __future__ import annotations

import torch
from torch import nn

# Activation families, by class name (matched along the MRO, so subclasses count). Names rather
# than classes so that activations defined elsewhere (trainwell.nn, user code) are classified too.
RELU_FAMILY = frozenset(
    {"ReLU", "ReLU6", "LeakyReLU", "PReLU", "RReLU", "ELU", "CELU", "SELU", "GELU", "SiLU", "Swish",
     "Mish", "Hardswish"}
)
TANH_FAMILY = frozenset({"Tanh", "Hardtanh"})
SIGMOID_FAMILY = frozenset({"Sigmoid", "Hardsigmoid"})

BASE_FIELDS = ("mean", "std", "lo", "hi")
EXTRA_FIELD = {"relu": "dead_frac", "tanh": "saturated_frac", "sigmoid": "saturated_frac"}
SATURATION = 0.99  # |tanh| > 0.99; sigmoid < 1 − 0.99 or > 0.99


def activation_kind(module: nn.Module) -> str | None:
    """"relu", "tanh", "sigmoid" for the activation families above, else None."""
    for cls in type(module).__mro__:
        name = cls.__name__
        if name in RELU_FAMILY:
            return "relu"
        if name in TANH_FAMILY:
            return "tanh"
        if name in SIGMOID_FAMILY:
            return "sigmoid"
    return None


def activation_fields(kind: str | None) -> tuple[str, ...]:
    """Names of the scalars at the front of `activation_summary(y, kind, bins)` (counts follow)."""
    extra = EXTRA_FIELD.get(kind or "")
    return BASE_FIELDS + ((extra,) if extra else ())


def unit_dims(ndim: int) -> tuple[int, ...]:
    """Dimensions reduced to get one value per unit: all but dim 1 (all of them for 1-D)."""
    return (0,) + tuple(range(2, ndim)) if ndim > 1 else (0,)


def dead_fraction(y: torch.Tensor) -> torch.Tensor:
    """Fraction of units (dim 1) that are ≤ 0 for every example and position — 0-dim tensor."""
    return (y.amax(dim=unit_dims(y.dim())) <= 0).float().mean()


def saturated_fraction(y: torch.Tensor, kind: str) -> torch.Tensor:
    """Fraction of elements in the flat tails of tanh (|y| > 0.99) or sigmoid (|y − ½| > 0.49)."""
    if kind == "tanh":
        return (y.abs() > SATURATION).float().mean()
    if kind == "sigmoid":
        return ((y - 0.5).abs() > SATURATION - 0.5).float().mean()
    raise ValueError(f"saturation is defined for tanh and sigmoid, not {kind!r}")


def histogram(flat: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, bins: int) -> torch.Tensor:
    """Counts of `flat` in `bins` equal bins over [lo, hi] (0-dim tensors on the device), no sync."""
    scale = bins / (hi - lo).clamp_min(torch.finfo(flat.dtype).tiny)
    z = ((flat - lo) * scale).clamp_(0, bins)
    return torch.histc(z, bins=bins, min=0, max=bins)


@torch.no_grad()
def activation_summary(y: torch.Tensor, kind: str | None, bins: int) -> torch.Tensor:
    """[mean, std, lo, hi, (dead_frac | saturated_frac)?, counts×bins] as float32 on y.device."""
    x = y.detach()
    if x.dtype != torch.float32:
        x = x.float()
    flat = x.reshape(-1)
    std, mean = torch.std_mean(flat, correction=0)
    lo, hi = torch.aminmax(flat)
    parts = [mean, std, lo, hi]
    if kind == "relu":
        parts.append(dead_fraction(x))
    elif kind in ("tanh", "sigmoid"):
        parts.append(saturated_fraction(flat, kind))
    return torch.cat([torch.stack(parts), histogram(flat, lo, hi, bins)])


@torch.no_grad()
def gradient_summary(g: torch.Tensor) -> torch.Tensor:
    """[mean, std] (population) of an activation gradient, float32, on g.device."""
    std, mean = torch.std_mean(g.detach().float().reshape(-1), correction=0)
    return torch.stack([mean, std])


@torch.no_grad()
def norms(tensors: list[torch.Tensor]) -> torch.Tensor:
    """‖t‖₂ of each tensor (float32), stacked into one vector on the device."""
    if not tensors:
        return torch.zeros(0)
    return torch.stack([torch.linalg.vector_norm(t.detach().float()) for t in tensors])


@torch.no_grad()
def update_ratios(before: list[torch.Tensor], after: list[torch.Tensor]) -> torch.Tensor:
    """[‖w_after − w_before‖, ‖w_before‖, ‖Δw‖/‖w_before‖] per tensor, flattened in that order.

    The lectures' rule of thumb: the update/weight ratio should be around 1e-3 — much lower and
    the learning rate is probably too low, much higher and it is probably too high.
    """
    if not before:
        return torch.zeros(0)
    delta = norms([a.float() - b.float() for a, b in zip(after, before)])
    weight = norms(before)
    ratio = delta / weight.clamp_min(torch.finfo(torch.float32).tiny)
    return torch.stack([delta, weight, ratio], dim=1).reshape(-1)
