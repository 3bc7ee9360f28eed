"""Seeded train/validation split."""
from __future__ import annotations

import torch

from trainwell.errors import UserError


def train_val_split(
    x: torch.Tensor, y: torch.Tensor, val_fraction: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Carve a validation set of round(val_fraction * N) examples (at least 1 when val_fraction > 0)
    from (x, y); val_fraction = 0 gives an empty validation set (0 examples, same feature shape).

    The examples are chosen by a permutation from `torch.Generator().manual_seed(seed)`, so the
    same seed gives the same split. Returns (x_train, y_train, x_val, y_val).
    """
    if not 0.0 <= val_fraction < 1.0:
        raise UserError(f"data.val_fraction must be in [0, 1), got {val_fraction}")
    n = len(x)
    n_val = max(1, int(round(val_fraction * n))) if val_fraction > 0 else 0
    if n_val and n - n_val < 1:
        raise UserError(f"data.val_fraction={val_fraction} leaves no training examples out of {n}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    val_idx, train_idx = perm[:n_val].sort().values, perm[n_val:].sort().values
    return x[train_idx], y[train_idx], x[val_idx], y[val_idx]
