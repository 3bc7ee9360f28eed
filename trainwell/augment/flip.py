"""Flips: horizontal (images, last axis), vertical (images, rows) and time reversal (signals).

    hflip:    x'[..., i, j] = x[..., i, W-1-j]
    vflip:    x'[..., i, j] = x[..., H-1-i, j]
    reverse:  x'[..., t]    = x[..., L-1-t]

Horizontal flips are the standard label-preserving augmentation for natural images (AlexNet,
Krizhevsky et al. 2012); vertical flips only suit data without a "up" (aerial, microscopy);
time reversal only suits signals whose class does not depend on the arrow of time.
One `flip` of the whole batch, then a per-example `where` on the keep-mask.

Example:
    >>> HFlip(p=0.5)(images, g)
"""
from __future__ import annotations

import torch
from torch import Tensor

from trainwell.augment.base import Augmentation


def hflip(x: Tensor) -> Tensor:
    """Mirror the last (width) axis."""
    return x.flip(-1)


def vflip(x: Tensor) -> Tensor:
    """Mirror the row axis of N×C×H×W images."""
    return x.flip(-2)


class HFlip(Augmentation):
    """Mirror images left-right with probability p per example."""

    name = "hflip"
    ranks = (4,)

    def __init__(self, p: float = 0.5) -> None:
        super().__init__(p)

    def sample_and_apply(self, x: Tensor, generator: torch.Generator) -> Tensor:
        return hflip(x)


class VFlip(Augmentation):
    """Mirror images top-bottom with probability p per example."""

    name = "vflip"
    ranks = (4,)

    def __init__(self, p: float = 0.5) -> None:
        super().__init__(p)

    def sample_and_apply(self, x: Tensor, generator: torch.Generator) -> Tensor:
        return vflip(x)


class TimeReverse(Augmentation):
    """Reverse signals in time with probability p per example."""

    name = "reverse"
    ranks = (3,)

    def __init__(self, p: float = 0.5) -> None:
        super().__init__(p)

    def sample_and_apply(self, x: Tensor, generator: torch.Generator) -> Tensor:
        return hflip(x)
