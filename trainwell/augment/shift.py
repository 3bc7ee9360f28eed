"""Random time shift of signals (N×C×L): every example moves by its own integer k.

    circular:  x'[t] = x[(t - k) mod L]
    zeros:     x'[t] = x[t - k] if 0 <= t - k < L else 0

with k ~ U{-max_shift, ..., max_shift} per example: a spike at t0 lands at t0 + k. Shifts
make a 1-D classifier (e.g. on MNIST-1D) tolerant to where a pattern occurs. Applied with one
`gather` over the whole batch (index arithmetic, no loop).

Example:
    >>> RandomShift(max_shift=5, mode="zeros")(x, g)     # x: N×C×L
"""
from __future__ import annotations

import torch
from torch import Tensor

from trainwell.augment._checks import check_choice
from trainwell.augment.base import Augmentation
from trainwell.errors import UserError

SHIFT_MODES = ("circular", "zeros")


def shift1d(x: Tensor, shifts: Tensor, mode: str = "circular") -> Tensor:
    """Shift each example of x (N×C×L) right by shifts[i] (integer tensor (N,); negative = left)."""
    mode = check_choice("shift1d: mode", mode, SHIFT_MODES)
    n, c, length = x.shape
    t = torch.arange(length, device=x.device)
    src = t.unsqueeze(0) - shifts.to(device=x.device, dtype=torch.long).unsqueeze(1)      # (N, L)
    if mode == "circular":
        return x.gather(2, src.remainder(length).unsqueeze(1).expand(n, c, length))
    valid = (src >= 0) & (src < length)
    out = x.gather(2, src.clamp(0, length - 1).unsqueeze(1).expand(n, c, length))
    return out.masked_fill(~valid.unsqueeze(1), 0.0)


class RandomShift(Augmentation):
    """Shift each signal by k ~ U{-max_shift..max_shift} samples (circular or zero-filled)."""

    name = "shift"
    ranks = (3,)

    def __init__(self, max_shift: int = 4, mode: str = "circular", p: float = 1.0) -> None:
        super().__init__(p)
        if isinstance(max_shift, bool) or not isinstance(max_shift, int) or max_shift < 0:
            raise UserError(f"shift: max_shift must be an integer >= 0, got {max_shift!r}")
        self.max_shift = max_shift
        self.mode = check_choice("shift: mode", mode, SHIFT_MODES)

    def is_active(self) -> bool:
        return self.max_shift > 0

    def sample_and_apply(self, x: Tensor, generator: torch.Generator) -> Tensor:
        k = torch.randint(
            -self.max_shift, self.max_shift + 1, (x.shape[0],), generator=generator, device=x.device
        )
        return shift1d(x, k, self.mode)

    def extra_repr(self) -> str:
        return f"max_shift={self.max_shift}, mode={self.mode!r}, p={self.p}"
