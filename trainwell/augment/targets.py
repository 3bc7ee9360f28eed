"""Soft targets for batch mixers: class indices -> one-hot rows, checked."""
from __future__ import annotations

import torch
from torch import Tensor

from trainwell.errors import UserError


def soft_targets(name: str, y: object, num_classes: int, x: Tensor) -> Tensor:
    """y: LongTensor[N] of class indices (or an already soft FloatTensor[N, C]) -> float (N, C).

    The result has x's floating dtype (float32 for half batches) and device.
    """
    dtype = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise UserError(f"{name}: num_classes must be an integer >= 1, got {num_classes!r}")
    if not isinstance(y, Tensor):
        raise UserError(f"{name}: labels y must be a tensor, got {type(y).__name__}")
    n = x.shape[0]
    if y.is_floating_point():
        if tuple(y.shape) != (n, num_classes):
            raise UserError(f"{name}: soft labels y must have shape ({n}, {num_classes}), got {tuple(y.shape)}")
        return y.to(device=x.device, dtype=dtype)
    if y.dim() != 1 or y.shape[0] != n:
        raise UserError(f"{name}: labels y must be a LongTensor of shape ({n},), got shape {tuple(y.shape)}")
    y = y.to(device=x.device, dtype=torch.long)
    # Checked where it is free (CPU). On an accelerator the check would sync the device every
    # batch; labels there come from `trainwell.data`, which validated them once at load time.
    bad = (y < 0) | (y >= num_classes) if y.device.type == "cpu" else None
    if bad is not None and bool(bad.any()):
        first = y[bad][0].item()
        raise UserError(f"{name}: label {first} is outside 0..{num_classes - 1} (num_classes={num_classes})")
    out = torch.zeros(n, num_classes, dtype=dtype, device=x.device)
    return out.scatter_(1, y.unsqueeze(1), 1.0)
