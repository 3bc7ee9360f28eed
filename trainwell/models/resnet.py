"""A small residual network for 1-D signals or 2-D images (He et al. 2016), from a spec."""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from trainwell.errors import UserError
from trainwell.models.blocks import check_widths, per_layer
from trainwell.models.layers import CONVS
from trainwell.nn.drop_path import ResidualBlock, drop_path_rates
from trainwell.nn.init import zero_init_residual_
from trainwell.nn.registry import initialize
from trainwell.nn.registry import ACTIVATIONS, NORMS
from trainwell.registry import Spec

POOL = {1: nn.AdaptiveAvgPool1d, 2: nn.AdaptiveAvgPool2d}


def _branch(dims: int, c_in: int, c_out: int, kernel: int, stride: int, norm: Spec, activation: Spec) -> nn.Sequential:
    conv = CONVS[dims]
    return nn.Sequential(OrderedDict([
        ("conv1", conv(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False)),
        ("norm1", NORMS.build(norm, num_features=c_out, dims=dims)),
        ("act1", ACTIVATIONS.build(activation, num_features=c_out)),
        ("conv2", conv(c_out, c_out, kernel, padding=kernel // 2, bias=False)),
        ("norm2", NORMS.build(norm, num_features=c_out, dims=dims)),
    ]))


def resnet(
    input_shape: Sequence[int],
    num_classes: int,
    channels: Sequence[int] = (32, 64, 128),
    blocks: int | Sequence[int] = 2,
    kernel: int = 3,
    stem_kernel: int = 3,
    activation: Spec = "relu",
    norm: Spec = "batch",
    init: Spec = "kaiming",
    drop_path: float = 0.0,
    zero_init_residual: bool = True,
    generator: torch.Generator | None = None,
) -> nn.Sequential:
    """Stem conv → stages of residual blocks → global average pool → Linear head.

    Each block computes act(x' + F(x)) with F = conv → norm → act → conv → norm and x' = x, or a
    strided 1×1 conv + norm when the stage changes width (the first block of every stage after the
    first halves the resolution). `drop_path` is the stochastic-depth rate of the LAST block;
    earlier blocks follow the linear rule p_l = l/L · drop_path (Huang et al. 2016).
    `zero_init_residual` zeroes the last norm's γ of every branch so each block starts as the
    identity (Goyal et al. 2017; the lecture's fix for Var(x + F(x)) growing with depth).
    """
    if len(input_shape) not in (2, 3):
        raise UserError(f"resnet needs inputs shaped C×L or C×H×W, got examples of shape {tuple(input_shape)}")
    check_widths(list(channels), "channels")
    dims = len(input_shape) - 1
    counts = per_layer(blocks, len(channels), "blocks")
    rates = drop_path_rates(sum(counts), drop_path) if drop_path else [0.0] * sum(counts)
    children: list[tuple[str, nn.Module]] = [
        ("stem", CONVS[dims](input_shape[0], channels[0], stem_kernel, padding=stem_kernel // 2, bias=False)),
        ("stem_norm", NORMS.build(norm, num_features=channels[0], dims=dims)),
        ("stem_act", ACTIVATIONS.build(activation, num_features=channels[0])),
    ]
    c_in, b = channels[0], 0
    for s, (c, n) in enumerate(zip(channels, counts), start=1):
        for j in range(1, n + 1):
            stride = 2 if (s > 1 and j == 1) else 1
            shortcut = None
            if stride != 1 or c_in != c:
                shortcut = nn.Sequential(CONVS[dims](c_in, c, 1, stride=stride, bias=False),
                                         NORMS.build(norm, num_features=c, dims=dims))
            branch = _branch(dims, c_in, c, kernel, stride, norm, activation)
            children.append((f"block{s}_{j}", ResidualBlock(branch, float(rates[b]), shortcut)))
            children.append((f"act{s}_{j}", ACTIVATIONS.build(activation, num_features=c)))
            c_in, b = c, b + 1
    children += [("gap", POOL[dims](1)), ("flatten", nn.Flatten()), ("head", nn.Linear(c_in, num_classes))]
    model = nn.Sequential(OrderedDict(children))
    initialize(model, init, generator=generator)
    if zero_init_residual:
        zero_init_residual_(model)
    return model
