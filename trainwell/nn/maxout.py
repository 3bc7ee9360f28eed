"""Maxout layers (Goodfellow, Warde-Farley, Mirza, Courville & Bengio 2013).

A maxout unit takes the maximum of k affine pieces: h_j(x) = max_{p<k} (w_{j,p}ᵀx + b_{j,p}).
With k = 2 it contains ReLU (one piece fixed at 0) and Leaky ReLU (second piece = slope × the
first) as special cases: piecewise linear, no saturation, no dying — at k times the parameters.

Maxout is a *layer* (it replaces Linear/Conv + activation), not an elementwise activation.
The k pieces of output unit j are rows j·k … j·k + k − 1 of the inner layer's weight.

Shapes: MaxoutLinear: N×in → N×out. MaxoutConv(dims=2): N×in×H×W → N×out×H'×W'.

Example:
    >>> layer = MaxoutLinear(20, 10, k=2)
    >>> layer(torch.randn(8, 20)).shape
    torch.Size([8, 10])
"""
from __future__ import annotations

import torch
from torch import nn

from trainwell.errors import UserError

_CONVS = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}


def maxout(z: torch.Tensor, k: int) -> torch.Tensor:
    """Max over groups of k consecutive channels (axis 1): N×(out·k)×… → N×out×…."""
    if z.shape[1] % k:
        raise UserError(f"maxout: channel axis of size {z.shape[1]} is not a multiple of k={k}")
    return z.unflatten(1, (z.shape[1] // k, k)).amax(dim=2)


def _check_k(k: int) -> int:
    if not isinstance(k, int) or k < 1:
        raise UserError(f"maxout: k (number of pieces) must be a positive integer, got {k!r}")
    return k


class MaxoutLinear(nn.Module):
    """out maxout units, each the max of k linear pieces of the input (inner nn.Linear(in, out·k))."""

    def __init__(self, in_features: int, out_features: int, k: int = 2, bias: bool = True):
        super().__init__()
        self.k = _check_k(k)
        self.out_features = out_features
        self.linear = nn.Linear(in_features, out_features * self.k, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return maxout(self.linear(x), self.k)

    def extra_repr(self) -> str:
        return f"k={self.k}"


class MaxoutConv(nn.Module):
    """out_channels maxout feature maps, each the max of k convolutions (inner ConvNd(in, out·k)).

    Args:
        dims: 1, 2 or 3 spatial dimensions. Remaining keyword arguments go to nn.ConvNd
        (stride, padding, dilation, groups, bias).
    """

    def __init__(self, dims: int, in_channels: int, out_channels: int, kernel_size: int, k: int = 2, **conv_options):
        super().__init__()
        if dims not in _CONVS:
            raise UserError(f"MaxoutConv: dims must be 1, 2 or 3, got {dims!r}")
        self.k = _check_k(k)
        self.dims = dims
        self.conv = _CONVS[dims](in_channels, out_channels * self.k, kernel_size, **conv_options)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return maxout(self.conv(x), self.k)

    def extra_repr(self) -> str:
        return f"dims={self.dims}, k={self.k}"
