"""Convolutional network for 1-D signals (N×C×L) and 2-D images (N×C×H×W) from a spec."""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from trainwell.errors import UserError
from trainwell.models.blocks import POOLS, block, check_widths, per_layer
from trainwell.models.layers import make_conv, make_dropout
from trainwell.nn.registry import initialize
from trainwell.registry import Spec


def convnet(
    input_shape: Sequence[int],
    num_classes: int,
    channels: Sequence[int] = (32, 64),
    kernel: int | Sequence[int] = 3,
    stride: int | Sequence[int] = 1,
    padding: int | str | Sequence[int | str] = "same",
    dilation: int | Sequence[int] = 1,
    pool: str | None | Sequence[str | None] = None,
    pool_size: int = 2,
    activation: Spec = "relu",
    norm: Spec = "batch",
    init: Spec = "kaiming",
    dropout: float | Spec | None = 0.0,
    layer: Spec = "conv",
    head: str = "gap",
    hidden: int | None = None,
    head_dropout: float = 0.0,
    generator: torch.Generator | None = None,
) -> nn.Sequential:
    """[Conv → norm → activation → dropout → pool] per entry of `channels`, then a head.

    The dimensionality follows the input: C×L → Conv1d, C×H×W → Conv2d. `kernel`, `stride`,
    `padding`, `dilation` and `pool` may be one value or one per layer; padding "same" keeps the
    length at stride 1 (odd kernels). `pool` is "none", "max", "avg" (size `pool_size`) or
    "fractional_max" (2-D only; Graham 2014, output ratio 1/√2). `layer` picks the conv type
    ("conv", {name="maxout", k=2}, {name="dropconnect", p=0.3}); `dropout` is a rate (inverted
    dropout) or a regularizer table ({name="dropblock", block_size=3, rate=0.1},
    {name="spatial_dropout", p=0.1}, ...).
    Heads: "gap" = global average pool → Linear (GoogLeNet/ResNet style, no big FC layer),
    "flatten" = Flatten → Linear. `hidden` adds one Linear → activation layer before the output.

    The MNIST-1D paper's CNN: `convnet((1, 40), 10, channels=[25, 25, 25], kernel=[5, 3, 3],
    stride=2, padding=1, norm="none", head="flatten")`.
    """
    if len(input_shape) not in (2, 3):
        raise UserError(
            f"convnet needs inputs shaped C×L (signals) or C×H×W (images), got examples of shape {tuple(input_shape)}; "
            "use model.name = \"mlp\" for flat features"
        )
    check_widths(list(channels), "channels")
    dims = len(input_shape) - 1
    n = len(channels)
    kernels, strides = per_layer(kernel, n, "kernel"), per_layer(stride, n, "stride")
    paddings, dilations = per_layer(padding, n, "padding"), per_layer(dilation, n, "dilation")
    pools = per_layer(pool, n, "pool")
    if head not in ("gap", "flatten"):
        raise UserError(f'model.head must be "gap" or "flatten", got {head!r}')

    children: list[tuple[str, nn.Module]] = []
    c_in = input_shape[0]
    for i, c in enumerate(channels, start=1):
        k, s, p, d = kernels[i - 1], strides[i - 1], paddings[i - 1], dilations[i - 1]
        if p == "same" and s != 1:
            p = d * (k - 1) // 2
        conv = make_conv(layer, dims, c_in, c, k, stride=s, padding=p, dilation=d, bias=_norm_off(norm))
        children += block("conv", i, conv, c, dims, norm, activation, dropout)
        if pools[i - 1] not in (None, "none"):
            children.append((f"pool{i}", make_pool(pools[i - 1], dims, pool_size)))
        c_in = c

    if head == "gap":
        children.append(("gap", nn.AdaptiveAvgPool1d(1) if dims == 1 else nn.AdaptiveAvgPool2d(1)))
    children.append(("flatten", nn.Flatten()))
    features = nn.Sequential(OrderedDict(children))
    with torch.no_grad():
        d_flat = features(torch.zeros(1, *input_shape)).shape[1]
    if hidden:
        children += [("fc", nn.Linear(d_flat, hidden)), ("act_fc", _activation(activation, hidden))]
        d_flat = hidden
    head_drop = make_dropout(head_dropout, 0)
    if head_drop is not None:
        children.append(("head_drop", head_drop))
    children.append(("head", nn.Linear(d_flat, num_classes)))
    model = nn.Sequential(OrderedDict(children))
    initialize(model, init, generator=generator)
    return model


def make_pool(kind: str, dims: int, size: int) -> nn.Module:
    if kind == "fractional_max":
        if dims != 2:
            raise UserError("model.pool: fractional_max pooling is 2-D only (images)")
        from trainwell.nn.registry import REGULARIZERS

        return REGULARIZERS.build({"name": "fractional_max", "kernel_size": size})
    if (kind, dims) not in POOLS:
        raise UserError(f'model.pool must be "none", "max", "avg" or "fractional_max", got {kind!r}')
    return POOLS[(kind, dims)](size)


def _norm_off(norm: Spec) -> bool:
    """Convs followed by a norm with a shift need no bias of their own."""
    name = norm if isinstance(norm, str) else norm.get("name")
    return name in (None, "none")


def _activation(spec: Spec, width: int) -> nn.Module:
    from trainwell.nn.registry import ACTIVATIONS

    return ACTIVATIONS.build(spec, num_features=width)
