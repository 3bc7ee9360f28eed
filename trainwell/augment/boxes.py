"""Random boxes (segments in 1-D, rectangles in 2-D) and their masks, for cutout and cutmix.

A box of integer size s along an axis of length L gets a centre c ~ U{0, ..., L-1} and spans
[c - s//2, c - s//2 + s) clipped to [0, L): it may stick out of the example and so be smaller
than s (DeVries & Taylor 2017 let the cutout square leave the image in the same way).

Shapes: sizes (N, d) long, with d = 1 (signals) or 2 (images: rows, columns);
lo, hi (N, d) long; `box_mask(spatial, lo, hi)` -> bool (N, *spatial), True inside the box.
"""
from __future__ import annotations

import torch
from torch import Tensor


def sample_boxes(spatial: tuple[int, ...], sizes: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Clipped boxes [lo, hi) with uniformly drawn integer centres; sizes (N, d) long."""
    n, d = sizes.shape
    lengths = torch.tensor(spatial, device=sizes.device)
    u = torch.rand(n, d, generator=generator, device=sizes.device)
    centre = (u * lengths).long().minimum(lengths - 1)
    lo = centre - sizes // 2
    hi = lo + sizes
    zero = torch.zeros_like(lengths)
    return lo.clamp(zero, lengths), hi.clamp(zero, lengths)


def box_mask(spatial: tuple[int, ...], lo: Tensor, hi: Tensor) -> Tensor:
    """Boolean mask (N, *spatial), True where every coordinate k has lo[:, k] <= i_k < hi[:, k]."""
    n, d = lo.shape
    mask = None
    for k, length in enumerate(spatial):
        idx = torch.arange(length, device=lo.device)
        inside = (idx >= lo[:, k : k + 1]) & (idx < hi[:, k : k + 1])        # (N, length)
        shape = [n] + [1] * d
        shape[k + 1] = length
        inside = inside.view(shape)
        mask = inside if mask is None else mask & inside
    return mask


def box_area(lo: Tensor, hi: Tensor) -> Tensor:
    """Number of positions inside each box: prod_k (hi_k - lo_k), shape (N,) long."""
    return (hi - lo).prod(dim=1)
