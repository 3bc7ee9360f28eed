"""Dropout (Srivastava, Hinton, Krizhevsky, Sutskever & Salakhutdinov 2014), two ways, and
spatial dropout.

In training each unit is zeroed with probability p (so kept with probability q = 1 − p); the net
is an ensemble of weight-sharing sub-networks. To make the test-time output equal the training
expectation E[m·x] = q·x:

- vanilla: train y = m·x; test y = q·x (multiply by the keep probability at test time);
- inverted: train y = m·x / q; test y = x (nothing to do at test time — what everyone uses).

`p` is the DROP probability, as in torch.nn.Dropout (the lecture's code uses p for the keep
probability; here that is q = 1 − p).

Spatial dropout (Tompson et al. 2015) drops whole channels of N×C×L / N×C×H×W maps (mask N×C×1…),
since neighbouring activations of a feature map are strongly correlated.

Example:
    >>> drop = InvertedDropout(0.5, generator=torch.Generator().manual_seed(0))
"""
from __future__ import annotations

import torch
from torch import nn

from trainwell.errors import UserError
from trainwell.nn._random import check_rate, keep_mask


def vanilla_dropout(x: torch.Tensor, p: float, training: bool, generator: torch.Generator | None = None) -> torch.Tensor:
    """Train: x·m, m ~ Bernoulli(1 − p). Eval: x·(1 − p)."""
    if p == 0.0:
        return x
    if not training:
        return x * (1.0 - p)
    return x * keep_mask(x.shape, 1.0 - p, x, generator)


def inverted_dropout(x: torch.Tensor, p: float, training: bool, generator: torch.Generator | None = None) -> torch.Tensor:
    """Train: x·m/(1 − p), m ~ Bernoulli(1 − p). Eval: x."""
    if not training or p == 0.0:
        return x
    return x * keep_mask(x.shape, 1.0 - p, x, generator) / (1.0 - p)


def spatial_dropout(x: torch.Tensor, p: float, training: bool, generator: torch.Generator | None = None) -> torch.Tensor:
    """Inverted dropout of whole channels: mask of shape N×C×1×…×1. Eval: x."""
    if not training or p == 0.0:
        return x
    if x.dim() < 3:
        raise UserError(f"spatial_dropout: expected input N×C×L or N×C×H×W, found shape {tuple(x.shape)}")
    shape = (*x.shape[:2], *([1] * (x.dim() - 2)))
    return x * keep_mask(shape, 1.0 - p, x, generator) / (1.0 - p)


class _Dropout(nn.Module):
    _fn = staticmethod(inverted_dropout)

    def __init__(self, p: float = 0.5, generator: torch.Generator | None = None):
        super().__init__()
        self.p = check_rate(p, type(self).__name__)
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return type(self)._fn(x, self.p, self.training, self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class VanillaDropout(_Dropout):
    """Dropout with test-time scaling: train x·m, eval x·(1 − p). See `vanilla_dropout`."""

    _fn = staticmethod(vanilla_dropout)


class InvertedDropout(_Dropout):
    """Dropout with train-time scaling: train x·m/(1 − p), eval identity. See `inverted_dropout`."""

    _fn = staticmethod(inverted_dropout)


class SpatialDropout(_Dropout):
    """Drops whole channels (inverted scaling). See `spatial_dropout`."""

    _fn = staticmethod(spatial_dropout)
