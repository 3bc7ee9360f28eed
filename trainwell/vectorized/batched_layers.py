"""Hand-batched layers: K copies of a Sequential model run as one model (the fast path).

A (possibly nested) ``nn.Sequential`` made of Linear, Conv1d/Conv2d, parameter-free activations,
pooling, Flatten/Unflatten and Dropout* is compiled into a list of batched ops over stacked parameters
(trial k in row k of every tensor):

* Linear:  ``y_k = x_k W_kᵀ + b_k`` for all k at once with one ``torch.baddbmm`` on K×B×in
  activations and K×in×out weights.
* Conv:    the K models' channels are concatenated, B×(K·C)×L, and one convolution with
  ``groups = K·groups`` applies model k's filters to model k's channels only (grouped
  convolution, Krizhevsky et al., 2012; the trick of running many small convnets as one).
* Activations and dropout are elementwise; pooling is per channel — both work on either layout.

Two layouts are used and converted lazily: "kb" = K×B×... (for Linear/Flatten/the output) and
"bk" = B×(K·C)×... (for Conv and pooling). Gradients need no special handling: the loss is the
sum of the K per-trial losses, and trial k's parameters only influence trial k's loss, so
autograd of the sum gives each trial its own gradient.

`compile_sequential(model)` returns None when the model has a part it does not know (the caller
then uses the vmap path); `BatchedSequential.forward(params, x, draw_mask)` runs it.

Example:
    >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    >>> ops = compile_sequential(net)
    >>> [op.kind for op in ops]
    ['linear', 'elementwise', 'linear']
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from trainwell.vectorized.dropout import DROPOUT_TYPES, is_channelwise
from trainwell.vectorized.pooling import tile_max
from trainwell.nn import activations as A

ELEMENTWISE = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish, nn.Tanh,
    nn.Sigmoid, nn.Softplus, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Identity,
    # trainwell's own activations (parameter-free ones; PReLU and learnable Swish own parameters
    # and are refused by the `not own` test below)
    A.ReLU, A.LeakyReLU, A.ELU, A.SELU, A.GELU, A.Swish, A.Tanh, A.Sigmoid,
)
CHANNELWISE = (
    nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d,
    nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d,
)


@dataclass
class Op:
    """One batched op: its kind, the module it came from, and the names of its parameters."""

    kind: str  # linear | conv | elementwise | channelwise | flatten | dropout
    module: nn.Module
    name: str
    param_names: list[str] = field(default_factory=list)


def _leaves(module: nn.Module, prefix: str):
    for name, child in module.named_children():
        full = f"{prefix}{name}"
        if isinstance(child, nn.Sequential):
            yield from _leaves(child, full + ".")
        else:
            yield full, child


def compile_sequential(model: nn.Module) -> list[Op] | None:
    """The batched ops of `model`, or None if it is not a Sequential of supported parts."""
    if not isinstance(model, nn.Sequential):
        return None
    ops = []
    for name, m in _leaves(model, ""):
        own = [f"{name}.{p}" for p, _ in m.named_parameters(recurse=False)]
        if type(m) is nn.Linear:
            ops.append(Op("linear", m, name, own))
        elif type(m) in (nn.Conv1d, nn.Conv2d) and m.padding_mode == "zeros":
            ops.append(Op("conv", m, name, own))
        elif type(m) in ELEMENTWISE and not own:
            ops.append(Op("elementwise", m, name))
        elif type(m) in CHANNELWISE:
            ops.append(Op("channelwise", m, name))
        elif type(m) is nn.Flatten:
            ops.append(Op("flatten", m, name))
        elif type(m) is nn.Unflatten and isinstance(m.dim, int) and m.dim != 0:
            ops.append(Op("unflatten", m, name))
        elif type(m) in DROPOUT_TYPES:
            ops.append(Op("dropout", m, name))
        else:
            return None
    return ops


def _single(v) -> int | None:
    """An int (or a tuple of equal ints) as one int, else None."""
    if isinstance(v, int):
        return v
    return v[0] if len(set(v)) == 1 else None


def tiled_pool(m: nn.Module) -> int | None:
    """The tile size when `m` is a Max/AvgPool1d/2d over non-overlapping tiles (kernel == stride,
    no padding/dilation/ceil_mode), else None. Such a pool is a max (`pooling.tile_max`, same
    gradient routing as max_pool: the first max of the tile) or a mean over each tile — on this CPU
    much cheaper than max_pool*d, whose backward is a scatter (measured in `pooling.py`)."""
    if type(m) not in (nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d):
        return None
    k, st = _single(m.kernel_size if isinstance(m.kernel_size, tuple) else (m.kernel_size,)), m.stride
    st = _single(st if isinstance(st, tuple) else (st,))
    pad = _single(m.padding if isinstance(m.padding, tuple) else (m.padding,))
    dil = getattr(m, "dilation", 1)
    dil = _single(dil if isinstance(dil, tuple) else (dil,))
    if k is None or k != st or pad != 0 or dil != 1 or m.ceil_mode:
        return None
    if isinstance(m, (nn.AvgPool1d, nn.AvgPool2d)) and not m.count_include_pad:
        return None
    if isinstance(m, nn.AvgPool2d) and m.divisor_override is not None:
        return None
    return k


def _tile_pool(x: torch.Tensor, k: int, dims: int, use_max: bool) -> torch.Tensor:
    """Pool the last `dims` dims of `x` over k×k tiles (remainders dropped, as floor mode)."""
    if use_max:
        return tile_max(x, k, dims)
    if dims == 1:
        n = x.shape[-1] // k
        t = x[..., : n * k].unflatten(-1, (n, k))
    else:
        h, w = x.shape[-2] // k, x.shape[-1] // k
        t = x[..., : h * k, : w * k].unflatten(-1, (w, k)).unflatten(-3, (h, k)).transpose(-3, -2).flatten(-2)
    return t.mean(-1)


def _to_bk(x: torch.Tensor) -> torch.Tensor:
    """K×B×C×... -> B×(K·C)×..."""
    k, b = x.shape[:2]
    return x.transpose(0, 1).reshape((b, k * x.shape[2]) + tuple(x.shape[3:]))


def _to_kb(x: torch.Tensor, k: int) -> torch.Tensor:
    """B×(K·C)×... -> K×B×C×..."""
    b = x.shape[0]
    return x.reshape((b, k, x.shape[1] // k) + tuple(x.shape[2:])).transpose(0, 1)


class BatchedSequential:
    """Runs K stacked copies of a compiled Sequential model.

    `forward(params, x, draw_mask)`: `params` maps parameter names to K×... tensors, `x` is K×B×...
    (each trial its own batch). `draw_mask(site, one_trial_shape, channelwise)` returns the K×...
    dropout masks of dropout site number `site`, or None for no dropout (eval).
    Returns K×B×(outputs).
    """

    def __init__(self, ops: list[Op], k: int):
        self.ops, self.k = ops, k

    def forward(self, params: dict[str, torch.Tensor], x: torch.Tensor, draw_mask: Callable | None) -> torch.Tensor:
        k, layout, site = self.k, "kb", 0
        for op in self.ops:
            m = op.module
            if op.kind == "linear":
                if layout == "bk":
                    x, layout = _to_kb(x, k), "kb"
                w = params[op.param_names[0]]
                shape = x.shape
                x2 = x.reshape(k, -1, shape[-1])
                if len(op.param_names) > 1:
                    y = torch.baddbmm(params[op.param_names[1]].unsqueeze(1), x2, w.transpose(1, 2))
                else:
                    y = torch.bmm(x2, w.transpose(1, 2))
                x = y.reshape(tuple(shape[:-1]) + (w.shape[1],))
            elif op.kind == "conv":
                if layout == "kb":
                    x, layout = _to_bk(x), "bk"
                w = params[op.param_names[0]]
                w = w.reshape((k * w.shape[1],) + tuple(w.shape[2:]))
                b = params[op.param_names[1]].reshape(-1) if len(op.param_names) > 1 else None
                conv = F.conv1d if isinstance(m, nn.Conv1d) else F.conv2d
                x = conv(x, w, b, m.stride, m.padding, m.dilation, m.groups * k)
            elif op.kind == "elementwise":
                x = m(x)
            elif op.kind == "channelwise" and (tile := tiled_pool(m)) is not None:
                dims = 1 if isinstance(m, (nn.MaxPool1d, nn.AvgPool1d)) else 2
                x = _tile_pool(x, tile, dims, isinstance(m, (nn.MaxPool1d, nn.MaxPool2d)))
            elif op.kind == "channelwise":
                if layout == "kb":
                    x, layout = _to_bk(x), "bk"
                x = m(x)
            elif op.kind == "flatten":
                if layout == "bk":
                    x, layout = _to_kb(x, k), "kb"
                end = m.end_dim + 1 if m.end_dim >= 0 else m.end_dim
                x = x.flatten(m.start_dim + 1, end)
            elif op.kind == "unflatten":
                if layout == "bk":
                    x, layout = _to_kb(x, k), "kb"
                x = x.unflatten(m.dim + 1 if m.dim > 0 else m.dim, m.unflattened_size)
            elif op.kind == "dropout":
                if draw_mask is not None:
                    if layout == "bk":
                        one_shape = (x.shape[0], x.shape[1] // k) + tuple(x.shape[2:])
                    else:
                        one_shape = tuple(x.shape[1:])
                    mask = draw_mask(site, one_shape, is_channelwise(m))
                    if mask is not None:
                        x = x * (mask if layout == "kb" else _to_bk(mask))
                site += 1
        if layout == "bk":
            x = _to_kb(x, k)
        return x
