"""Per-layer statistics as pure tensor reductions that stay on the device.

Each function returns small float32 tensors on the input's device — no `.item()`, no host
transfer — except the host-side helpers of the last section, which `LayerStats` uses after its
one transfer per sampled step. `activation_summary` / `gradient_summary` are the one-tensor
reference versions the tests read.

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

`histogram` bins on the device without knowing lo/hi on the host: y is mapped to
z = (y − lo)·bins/(hi − lo) ∈ [0, bins] and counted with `torch.histc(z, bins, 0, bins)` on CUDA,
whose range is a Python constant (a data-dependent `histc` range, or `bincount`, would force a
sync there), and with `bincount` on CPU. The recorder (`LayerStats`) instead sends a systematic
sample of at most `hist_samples` elements per layer to the host with its other numbers and bins
all layers there at once (`histograms_host`).

Statistics are computed in float32 whatever the input dtype (float16/bfloat16 under autocast).

Example:
    >>> y = torch.relu(torch.randn(8, 4))
    >>> v = activation_summary(y, "relu", bins=10)     # 4 + 1 + 10 numbers, still on y.device
    >>> dict(zip(activation_fields("relu"), v[:5].tolist()))  # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence

import numpy as np
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

# Activations applied as functions (F.relu, torch.tanh, … in a forward method), recognised by the
# autograd node that made a tensor: node class → (kind, function). F.relu6 and F.hardtanh both make
# HardtanhBackward0 (ReLU family or tanh family?), F.threshold and clamp are not activations as
# such: those are left out.
FUNCTION_NODES = {
    "ReluBackward0": ("relu", "relu"), "LeakyReluBackward0": ("relu", "leaky_relu"), "EluBackward0": ("relu", "elu"),
    "CeluBackward0": ("relu", "celu"), "GeluBackward0": ("relu", "gelu"), "SiluBackward0": ("relu", "silu"),
    "MishBackward0": ("relu", "mish"), "HardswishBackward0": ("relu", "hardswish"),
    "PreluKernelBackward0": ("relu", "prelu"), "RreluWithNoiseBackward0": ("relu", "rrelu"),
    "TanhBackward0": ("tanh", "tanh"), "SigmoidBackward0": ("sigmoid", "sigmoid"),
    "HardsigmoidBackward0": ("sigmoid", "hardsigmoid"),
}
# Nodes that only reshape, permute or copy a tensor (its values unchanged): looked through to find
# the activation that made them (`x.view(n, -1)`, `x.flatten(1)`, `x.transpose(1, 2)` after F.relu).
SHAPE_NODES = frozenset({
    "ViewBackward0", "UnsafeViewBackward0", "ReshapeAliasBackward0", "CloneBackward0", "PermuteBackward0",
    "TransposeBackward0", "TransposeBackward1", "TBackward0", "SqueezeBackward0", "SqueezeBackward1",
    "SqueezeBackward2", "SqueezeBackward3", "UnsqueezeBackward0", "ToCopyBackward0",
})

BASE_FIELDS = ("mean", "std", "lo", "hi")
EXTRA_FIELD = {"relu": "dead_frac", "tanh": "saturated_frac", "sigmoid": "saturated_frac"}
SATURATION = 0.99  # |tanh| > 0.99; sigmoid < 1 − 0.99 or > 0.99
_TINY32 = float(np.finfo(np.float32).tiny)


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


def dead_count(y: torch.Tensor) -> torch.Tensor:
    """Number of units (dim 1) that are ≤ 0 for every example and position — 0-dim tensor.

    Reduced in two steps (over examples, then over positions): a reduction over the outer
    dimension vectorises well on CPU, unlike one strided reduction over dims (0, 2, …)."""
    if y.dim() <= 1:
        return (y.amax() <= 0).sum()
    per_unit = y.reshape(y.shape[0], -1).amax(0).view(y.shape[1], -1).amax(1)
    return (per_unit <= 0).sum()


def dead_fraction(y: torch.Tensor) -> torch.Tensor:
    """Fraction of units (dim 1) that are ≤ 0 for every example and position — 0-dim tensor."""
    units = y.shape[1] if y.dim() > 1 else 1
    return dead_count(y) / units


def saturated_count(flat: torch.Tensor, kind: str) -> torch.Tensor:
    """Number of elements in the flat tails: tanh |y| > 0.99, sigmoid |y − ½| > 0.49.

    Counted as Σ clamp(sign(|y| − t), 0) in float arithmetic: 1 above t, 0 at or below it (a
    boolean mask's sum is several times slower on CPU)."""
    if kind == "tanh":
        excess = flat.abs() - SATURATION
    elif kind == "sigmoid":
        excess = (flat - 0.5).abs_() - (SATURATION - 0.5)
    else:
        raise ValueError(f"saturation is defined for tanh and sigmoid, not {kind!r}")
    return excess.sign_().clamp_(min=0).sum()


def saturated_fraction(y: torch.Tensor, kind: str) -> torch.Tensor:
    """Fraction of elements in the flat tails of tanh (|y| > 0.99) or sigmoid (|y − ½| > 0.49)."""
    return saturated_count(y.reshape(-1), kind) / max(y.numel(), 1)


def histogram(flat: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, bins: int) -> torch.Tensor:
    """Counts of `flat` in `bins` equal bins over [lo, hi] (0-dim tensors on the device), no sync.

    z = (y − lo)·bins/(hi − lo) is the bin coordinate; on CUDA `histc(z, bins, 0, bins)` (constant
    range: no sync), on CPU `bincount` of ⌊min(z, bins − 1)⌋ as int32 (several times faster than
    CPU histc). Non-finite values make the range meaningless: they land in the first bin (CPU)
    or are dropped (CUDA); mean/std show the NaN anyway."""
    scale = bins / (hi - lo).clamp_min(torch.finfo(flat.dtype).tiny)
    z = (flat - lo).mul_(scale)
    if flat.device.type == "cpu":
        return torch.bincount(z.clamp_(0, bins - 1).int().clamp_(min=0), minlength=bins)[:bins]
    return torch.histc(z.clamp_(0, bins), bins=bins, min=0, max=bins)


_SAMPLE_INDEX: dict[tuple[int, int, str], torch.Tensor] = {}


def sample_index(n: int, k: int, device: torch.device) -> torch.Tensor:
    """A fixed random subset of k of range(n) (seed 0, cached per (n, k, device)), sorted."""
    key = (n, k, str(device))
    index = _SAMPLE_INDEX.get(key)
    if index is None:
        gen = torch.Generator().manual_seed(0)
        index = torch.randperm(n, generator=gen)[:k].sort().values.to(device)
        if len(_SAMPLE_INDEX) > 256:
            _SAMPLE_INDEX.clear()
        _SAMPLE_INDEX[key] = index
    return index


@torch.no_grad()
def activation_moments(y: torch.Tensor, kind: str | None, bins: int, hist_samples: int | None = None) -> list[torch.Tensor]:
    """Raw device-side statistics of y: [stack(mean, M2, lo, hi[, count]), counts].

    M2 = Σ (y − mean)² (two passes: exact in float32, unlike Σy² − n·mean², and ~50× faster
    than `torch.std_mean` on CPU); `count` is the number of dead units (relu) or saturated
    elements (tanh, sigmoid). `finish_activation` turns these into the documented fields.
    With `hist_samples` = k < numel, the histogram counts a fixed random subset of k elements
    (`sample_index`) over the full [lo, hi] range; every other statistic uses all elements."""
    x = y.detach()
    if x.dtype != torch.float32:
        x = x.float()
    flat = x.reshape(-1)
    mean = flat.mean()
    d = flat - mean
    m2 = d.dot(d)
    lo, hi = torch.aminmax(flat)
    parts = [mean, m2, lo, hi]
    if kind == "relu":
        parts.append(dead_count(x).float())
    elif kind in ("tanh", "sigmoid"):
        parts.append(saturated_count(flat, kind))
    if hist_samples is not None and hist_samples < flat.numel():
        flat = flat[sample_index(flat.numel(), hist_samples, flat.device)]
    return [torch.stack(parts), histogram(flat, lo, hi, bins)]


def finish_activation(values: list[float], shape: tuple[int, ...], kind: str | None) -> dict[str, float]:
    """Host side of `activation_moments`: [mean, M2, lo, hi, count?] → the documented fields."""
    n = 1
    for s in shape:
        n *= s
    out = {"mean": values[0], "std": math.sqrt(max(values[1], 0.0) / max(n, 1)) if values[1] == values[1]
           else float("nan"), "lo": values[2], "hi": values[3]}
    extra = EXTRA_FIELD.get(kind or "")
    if extra == "dead_frac":
        out[extra] = values[4] / (shape[1] if len(shape) > 1 else 1)
    elif extra:
        out[extra] = values[4] / max(n, 1)
    return out


def activation_summary(y: torch.Tensor, kind: str | None, bins: int) -> torch.Tensor:
    """[mean, std, lo, hi, (dead_frac | saturated_frac)?, counts×bins] as float32 on y.device.

    A convenience (and the reference the tests read) built from the same reductions as
    `activation_moments` (the recorder reduces each layer with fewer ops: see `trainwell.diagnostics.capture`)."""
    head, counts = activation_moments(y, kind, bins)
    n = max(y.numel(), 1)
    std = (head[1] / n).sqrt()
    fields = [head[0], std, head[2], head[3]]
    if kind == "relu":
        fields.append(head[4] / (y.shape[1] if y.dim() > 1 else 1))
    elif kind in ("tanh", "sigmoid"):
        fields.append(head[4] / n)
    return torch.cat([torch.stack(fields), counts.float()])


@torch.no_grad()
def gradient_moments(g: torch.Tensor) -> torch.Tensor:
    """[mean, M2] of an activation gradient (float32, on g.device); std = sqrt(M2 / n)."""
    flat = g.detach().reshape(-1)
    if flat.dtype != torch.float32:
        flat = flat.float()
    mean = flat.mean()
    d = flat - mean
    return torch.stack([mean, d.dot(d)])


def gradient_summary(g: torch.Tensor) -> torch.Tensor:
    """[mean, std] (population) of an activation gradient, float32, on g.device."""
    mean, m2 = gradient_moments(g)
    return torch.stack([mean, (m2 / max(g.numel(), 1)).sqrt()])


@torch.no_grad()
def norms(tensors: list[torch.Tensor]) -> torch.Tensor:
    """‖t‖₂ of each tensor (float32), stacked into one vector on the device (one fused call)."""
    if not tensors:
        return torch.zeros(0)
    return torch.stack(torch._foreach_norm([t.detach() for t in tensors])).float()


@torch.no_grad()
def update_ratios(before: list[torch.Tensor], after: list[torch.Tensor]) -> torch.Tensor:
    """[‖w_after − w_before‖, ‖w_before‖, ‖Δw‖/‖w_before‖] per tensor, flattened in that order.

    The lectures' rule of thumb: the update/weight ratio should be around 1e-3 — much lower and
    the learning rate is probably too low, much higher and it is probably too high.
    """
    if not before:
        return torch.zeros(0)
    delta = norms(torch._foreach_sub([a.detach() for a in after], before))
    weight = norms(before)
    ratio = delta / weight.clamp_min(torch.finfo(torch.float32).tiny)
    return torch.stack([delta, weight, ratio], dim=1).reshape(-1)




# --------------------------------------------------------------------------- the recorder's path
#
# `LayerStats`' torch path reduces each layer output in its forward hook with a few ops whose small
# results stay on the device (see `trainwell.diagnostics.capture`); after its one transfer per
# sampled step these helpers finish the histograms on the host, all layers at once.


def unit_shape(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(examples N, units C, positions P) of an output, dim 1 being the unit axis."""
    numel = math.prod(shape)
    if len(shape) < 2:
        return numel, 1, 1
    return shape[0], shape[1], numel // max(shape[0] * shape[1], 1)


def sample_stride(n: int, k: int | None, per_example: int) -> tuple[int, int]:
    """(count, stride) of the systematic histogram sample of a flat output of n elements.

    Elements 0, s, 2s, …, (count − 1)·s with count = min(k, n) and s ≤ n / count the largest
    stride coprime with the example size (so i·s mod per_example walks through every unit and
    position instead of hitting the same few: with s a multiple of it, every sample would be
    element 0 of some example). k None: every element."""
    if k is None or k >= n:
        return n, 1
    s = max(n // k, 1)
    while s > 1 and math.gcd(s, max(per_example, 1)) != 1:
        s -= 1
    return k, s


_HIST_BASES: dict[tuple[tuple[int, ...], int, int], np.ndarray] = {}


def _hist_base(sizes: tuple[int, ...], width: int, bins: int) -> np.ndarray:
    """rows × width slot offsets: r·bins for a real element of row r, rows·bins (a discarded extra
    row of bins) for padding. Cached per layout."""
    key = (sizes, width, bins)
    base = _HIST_BASES.get(key)
    if base is None:
        rows = len(sizes)
        real = np.arange(width)[None, :] < np.asarray(sizes)[:, None]
        base = np.where(real, (np.arange(rows) * bins)[:, None], rows * bins).astype(np.intp)
        if len(_HIST_BASES) > 64:
            _HIST_BASES.clear()
        _HIST_BASES[key] = base
    return base


def histograms_host(samples: np.ndarray, sizes: list[int], lo: Sequence[float], hi: Sequence[float],
                    bins: int, width: int | None = None) -> np.ndarray:
    """Counts (rows × bins) of the rows of `samples`, row r binned over [lo[r], hi[r]].

    With `width`, samples holds rows × width values of which row r's first sizes[r] are real (the
    rest is padding); without it, the rows are stored back to back (row r has sizes[r] values).
    z = (y − lo)·s in float32 with s = bins/(hi − lo) (float64, capped at 1e30 so that a constant
    row lands in bin 0); bin ⌊z⌋ clamped to [0, bins − 1] (the last bin is closed); NaN lands in
    the first bin. All rows are counted with one `np.bincount`; padding goes to a discarded extra
    row of bins."""
    rows = len(sizes)
    if rows == 0:
        return np.zeros((0, bins), dtype=np.int64)
    samples = samples.astype(np.float32, copy=False)
    if width is None:  # back to back: pad on the host
        width = max(sizes)
        padded = np.zeros((rows, width), dtype=np.float32)
        at = 0
        for r, k in enumerate(sizes):
            padded[r, :k] = samples[at:at + k]
            at += k
        samples = padded
    base = _hist_base(tuple(sizes), width, bins)
    lo32 = np.array(lo, dtype=np.float32)[:, None]
    scale = np.array([min(bins / max(h - low, _TINY32), 1e30) for low, h in zip(lo, hi)], dtype=np.float32)[:, None]
    # finite lo and hi mean every sample is finite: no warning to silence (and errstate is not free)
    finite = all(map(math.isfinite, lo)) and all(map(math.isfinite, hi))
    with contextlib.nullcontext() if finite else np.errstate(invalid="ignore", over="ignore"):
        z = samples.reshape(rows, width) - lo32
        z *= scale
    np.fmax(z, 0, out=z)  # fmax/fmin ignore NaN: NaN → 0 (the first bin), ±inf → the end bins
    np.fmin(z, bins - 1, out=z)
    slot = z.astype(np.intp)
    slot += base
    return np.bincount(slot.reshape(-1), minlength=(rows + 1) * bins)[: rows * bins].reshape(rows, bins)
