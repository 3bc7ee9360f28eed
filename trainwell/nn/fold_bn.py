"""Fold BatchNorm into the preceding Linear/Conv for inference.

At test time BatchNorm is a fixed per-channel affine map, y = γ·(z − μ)/√(σ² + ε) + β with the
running mean μ and variance σ². If z = W x + b comes from a Linear or Conv, then with
s = γ/√(σ² + ε) (one factor per output channel):

    y = (s·W) x + (s·(b − μ) + β)

so the BatchNorm costs nothing at inference: scale each output row/filter of W by s and replace
the bias (Ioffe & Szegedy 2015 note the equivalence; now standard in deployment). The new weights
are computed in float64 and stored in the layer's dtype and memory format.

`fold_batchnorm(model)` returns a NEW model (a deep copy, in eval mode) where every BatchNorm that
directly follows a layer as consecutive children of an nn.Sequential is folded into it and
replaced by nn.Identity (names and indices are kept, so `model[3]` or a name in a diagnostic still
means the same layer). Foldable layers: Linear (incl. DropConnectLinear), Conv1d/2d/3d of any
groups (depthwise too) and padding mode, and DropConnectConv (its eval path is its plain `conv`).
This covers every BatchNorm of trainwell's builders: mlp and convnet blocks (layer → norm → act),
the resnet stem, both convs of every residual branch and the 1×1 projection shortcuts.

Left as they are (still correct, just not folded):
* BatchNorms without running statistics (track_running_stats=False) or not right after a layer;
* BatchNorm after Maxout (the max over pieces does not commute with a negative scale s);
* pairs inside a Sequential SUBCLASS that overrides forward (it may not feed the layer's output
  to the BatchNorm) — only nn.Sequential's own chaining guarantees y = BN(layer(x));
* a layer object used at more than one place in the model (folding would change the others).

Not done on purpose: removing the Identity modules (it would shift indices; measured gain within
noise, bench/bench_fold_bn.py) and making the activation after a folded layer in-place (no
measurable gain either). The memory format is kept: for 2-D ConvNets on the CPU, channels_last
(`model.to(memory_format=torch.channels_last)` and the input likewise) is a separate, larger
optimisation that helps folded and unfolded models alike.

Example:
    >>> model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU()).eval()
    >>> fold_batchnorm(model)
    Sequential(
      (0): Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1))
      (1): Identity()
      (2): ReLU()
    )
"""
from __future__ import annotations

import copy
from collections import Counter

import torch
from torch import nn

from trainwell.errors import UserError
from trainwell.nn.dropconnect import DropConnectConv

_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_BNS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def fold_into(layer: nn.Module, bn: nn.modules.batchnorm._BatchNorm) -> None:
    """Fold `bn` (eval statistics) into `layer`'s weight and bias in place (computed in float64)."""
    if layer.weight.shape[0] != bn.num_features:
        raise UserError(
            f"fold_batchnorm: {type(layer).__name__} has {layer.weight.shape[0]} outputs but the "
            f"following {type(bn).__name__} has {bn.num_features} features"
        )
    with torch.no_grad():
        w = layer.weight.double()
        mean, var = bn.running_mean.double(), bn.running_var.double()
        gamma = bn.weight.double() if bn.weight is not None else torch.ones_like(mean)
        beta = bn.bias.double() if bn.bias is not None else torch.zeros_like(mean)
        scale = gamma / torch.sqrt(var + bn.eps)
        b = layer.bias.double() if layer.bias is not None else torch.zeros_like(mean)
        new_w = w * scale.view(-1, *([1] * (w.dim() - 1)))
        new_b = (b - mean) * scale + beta
        layer.weight.copy_(new_w.to(layer.weight.dtype))  # copy_ keeps the weight's memory format
        if layer.bias is None:
            layer.bias = nn.Parameter(new_b.to(device=layer.weight.device, dtype=layer.weight.dtype))
        else:
            layer.bias.copy_(new_b.to(layer.bias.dtype))


def foldable_layer(module: nn.Module) -> nn.Module | None:
    """The Linear/Conv whose weights give `module`'s eval output, or None if there is none."""
    if isinstance(module, _LAYERS):
        return module
    if isinstance(module, DropConnectConv):
        return module.conv
    return None


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """A deep copy of `model` (eval mode) with each layer → BatchNorm pair folded (see module doc).

    Raises UserError if `model` is in training mode (its BatchNorms would use batch statistics,
    which cannot be folded): call model.eval() first.
    """
    if model.training:
        raise UserError("fold_batchnorm: the model is in training mode; call model.eval() first "
                        "(folding uses BatchNorm's running statistics, which only eval mode uses)")
    folded = copy.deepcopy(model)
    folded.eval()
    uses = Counter(id(m) for _, m in folded.named_modules(remove_duplicate=False))
    for seq in [m for m in folded.modules() if isinstance(m, nn.Sequential)]:
        if type(seq).forward is not nn.Sequential.forward:
            continue
        names = list(seq._modules)
        for prev, cur in zip(names, names[1:]):
            layer, bn = foldable_layer(seq._modules[prev]), seq._modules[cur]
            if (layer is not None and isinstance(bn, _BNS) and bn.running_mean is not None
                    and uses[id(layer)] == 1 and uses[id(seq._modules[prev])] == 1):
                fold_into(layer, bn)
                seq._modules[cur] = nn.Identity()
    return folded


def count_batchnorms(model: nn.Module) -> int:
    """Number of BatchNorm layers in `model` (to see how many were folded)."""
    return sum(isinstance(m, _BNS) for m in model.modules())
