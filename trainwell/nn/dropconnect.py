"""DropConnect (Wan, Zeiler, Zhang, LeCun & Fergus 2013): drop *weights* instead of activations.

In training each weight is zeroed with probability p: y = (M ⊙ W)x / (1 − p) + b with
M ~ Bernoulli(1 − p) — inverted scaling, so at test time the layer is the plain y = Wx + b
(the paper approximates the test-time average with a Gaussian; the mean-field rescaling used here
is the common simplification). One mask is drawn per forward pass and shared by the batch; the
bias is not dropped.

Example:
    >>> layer = DropConnectLinear(64, 32, p=0.5, generator=torch.Generator().manual_seed(0))
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainwell.errors import UserError
from trainwell.nn._random import check_rate, keep_mask

_CONVS = {1: (nn.Conv1d, F.conv1d), 2: (nn.Conv2d, F.conv2d), 3: (nn.Conv3d, F.conv3d)}


def drop_connect(weight: torch.Tensor, p: float, training: bool, generator: torch.Generator | None = None) -> torch.Tensor:
    """M ⊙ W / (1 − p) in training, W at eval (M ~ Bernoulli(1 − p), same shape as W)."""
    if not training or p == 0.0:
        return weight
    return weight * keep_mask(weight.shape, 1.0 - p, weight, generator) / (1.0 - p)


class DropConnectLinear(nn.Linear):
    """nn.Linear whose weight is masked by DropConnect in training (inverted scaling)."""

    def __init__(self, in_features: int, out_features: int, p: float = 0.5, bias: bool = True,
                 generator: torch.Generator | None = None):
        super().__init__(in_features, out_features, bias=bias)
        self.p = check_rate(p, "DropConnectLinear")
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, drop_connect(self.weight, self.p, self.training, self.generator), self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, p={self.p}"


class DropConnectConv(nn.Module):
    """A ConvNd (child `conv`, dims 1/2/3) whose kernel is masked by DropConnect in training.

    Keyword options (stride, padding, dilation, groups, bias) go to the convolution; only
    zero padding is supported.
    """

    def __init__(self, dims: int, in_channels: int, out_channels: int, kernel_size: int, p: float = 0.5,
                 generator: torch.Generator | None = None, **conv_options):
        super().__init__()
        if dims not in _CONVS:
            raise UserError(f"DropConnectConv: dims must be 1, 2 or 3, got {dims!r}")
        if conv_options.get("padding_mode", "zeros") != "zeros":
            raise UserError(f"DropConnectConv: only padding_mode='zeros' is supported, got {conv_options['padding_mode']!r}")
        self.dims = dims
        self.p = check_rate(p, "DropConnectConv")
        self.generator = generator
        self.conv = _CONVS[dims][0](in_channels, out_channels, kernel_size, **conv_options)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.conv
        if not self.training or self.p == 0.0:
            return c(x)
        w = drop_connect(c.weight, self.p, True, self.generator)
        return _CONVS[self.dims][1](x, w, c.bias, c.stride, c.padding, c.dilation, c.groups)

    def extra_repr(self) -> str:
        return f"dims={self.dims}, p={self.p}"
