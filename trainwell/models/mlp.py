"""Fully connected network (multi-layer perceptron) from a spec."""
from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from trainwell.models.blocks import block, check_widths
from trainwell.models.layers import make_linear
from trainwell.nn.registry import initialize
from trainwell.registry import Spec


def mlp(
    input_shape: Sequence[int],
    num_classes: int,
    widths: Sequence[int] = (100, 100),
    activation: Spec = "relu",
    norm: Spec = "none",
    init: Spec = "kaiming",
    dropout: float | Spec | None = 0.0,
    layer: Spec = "linear",
    generator: torch.Generator | None = None,
) -> nn.Sequential:
    """Flatten → [Linear → norm → activation → dropout] × len(widths) → Linear head.

    Input N×(any shape); it is flattened to N×D with D = prod(input_shape). The MNIST-1D paper's
    MLP is `mlp((40,), 10, widths=[100, 100])`. Weights are initialized by `init` (a name from
    `trainwell list`), drawing from `generator`. `layer` picks the hidden layer type ("linear",
    {name="maxout", k=2}, {name="dropconnect", p=0.3}); `dropout` is a rate (inverted dropout) or a
    regularizer table such as {name="vanilla_dropout", p=0.5}.
    """
    check_widths(list(widths), "widths")
    d = math.prod(input_shape)
    children: list[tuple[str, nn.Module]] = [("flatten", nn.Flatten())]
    for i, w in enumerate(widths, start=1):
        children += block("fc", i, make_linear(layer, d, w), w, 0, norm, activation, dropout)
        d = w
    children.append(("head", nn.Linear(d, num_classes)))
    model = nn.Sequential(OrderedDict(children))
    initialize(model, init, generator=generator)
    return model
