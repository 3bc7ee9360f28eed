"""Cutout (DeVries & Taylor, "Improved Regularization of Convolutional Neural Networks with
Cutout", 2017): zero a random square (images) or segment (signals) of each example.

The box has side `size` along every spatial axis (an int: positions; a float in (0, 1]: that
fraction of each axis, rounded), its centre is uniform over the example, and it is clipped
where it sticks out — as in the paper, so the erased area is sometimes smaller. The labels are
untouched (compare CutMix, which pastes a partner and mixes labels). Masks are built by
broadcasting index ranges, one `masked_fill` for the batch.

    x'[n, c, i, j] = value  if  lo_h <= i < hi_h and lo_w <= j < hi_w  else x[n, c, i, j]

Example:
    >>> Cutout(size=16)(images, g)          # CIFAR-10 setting of the paper
    >>> Cutout1d(size=0.2)(signals, g)      # a fifth of the signal
"""
from __future__ import annotations

import torch
from torch import Tensor

from trainwell.augment.base import Augmentation
from trainwell.augment.boxes import box_mask, sample_boxes
from trainwell.errors import UserError


def cutout(x: Tensor, lo: Tensor, hi: Tensor, value: float = 0.0) -> Tensor:
    """Fill the boxes [lo, hi) (N×d long, d = x.dim() - 2) of each example with `value`."""
    mask = box_mask(tuple(x.shape[2:]), lo, hi).unsqueeze(1)       # (N, 1, *spatial)
    return x.masked_fill(mask, value)


def _check_size(name: str, size: object) -> int | float:
    if isinstance(size, bool) or not isinstance(size, (int, float)):
        raise UserError(f"{name}: size must be an int (positions) or a float fraction in (0, 1], got {size!r}")
    if isinstance(size, int):
        if size < 0:
            raise UserError(f"{name}: size must be >= 0, got {size}")
        return size
    if not 0.0 <= size <= 1.0:
        raise UserError(f"{name}: a float size is a fraction of each axis and must be in [0, 1], got {size}")
    return size


def box_sizes(size: int | float, spatial: tuple[int, ...]) -> list[int]:
    """Box side per axis: an int as is (capped at the axis), a float as round(size · length)."""
    if isinstance(size, int):
        return [min(size, n) for n in spatial]
    return [int(round(size * n)) for n in spatial]


class Cutout(Augmentation):
    """Erase a random square (images) or segment (signals) of side `size` in each example."""

    name = "cutout"
    ranks = (3, 4)

    def __init__(self, size: int | float = 0.5, value: float = 0.0, p: float = 1.0) -> None:
        super().__init__(p)
        self.size = _check_size(self.name, size)
        self.value = float(value)

    def is_active(self) -> bool:
        return self.size > 0

    def sample_and_apply(self, x: Tensor, generator: torch.Generator) -> Tensor:
        spatial = tuple(x.shape[2:])
        sides = torch.tensor(box_sizes(self.size, spatial), device=x.device)
        lo, hi = sample_boxes(spatial, sides.expand(x.shape[0], -1), generator)
        return cutout(x, lo, hi, self.value)

    def extra_repr(self) -> str:
        return f"size={self.size}, value={self.value}, p={self.p}"


class Cutout1d(Cutout):
    """Cutout for signals only: erase a random segment of each N×C×L example."""

    name = "cutout1d"
    ranks = (3,)
