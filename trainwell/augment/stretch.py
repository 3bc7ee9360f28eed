"""Random time stretch of signals (N×C×L): resample about the centre, keep the length.

With factor r per example and centre c = (L - 1) / 2, the output samples the input at

    u(t) = c + (t - c) / r            x'[t] = x(u(t))   (linear interpolation)

so r > 1 slows the signal down (patterns get wider, the ends fall off) and r < 1 speeds it up
(the ends read outside the signal and are filled by `padding_mode`: zeros, border, reflection).
r is drawn log-uniformly from `factor` = (low, high), so r and 1/r are equally likely when the
range is symmetric in log space, e.g. (0.8, 1.25). One `F.grid_sample` call for the batch
(the signal is viewed as an N×C×1×L image).

Example:
    >>> TimeStretch(factor=(0.8, 1.25))(x, g)            # x: N×C×L
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from trainwell.augment._checks import check_choice, check_interval, uniform
from trainwell.augment.base import Augmentation

PADDING_MODES = ("zeros", "border", "reflection")


def stretch1d(x: Tensor, factors: Tensor, padding_mode: str = "zeros") -> Tensor:
    """Stretch each example of x (N×C×L) in time by factors[i] > 0 about the centre."""
    padding_mode = check_choice("stretch1d: padding_mode", padding_mode, PADDING_MODES)
    n, c, length = x.shape
    t = torch.arange(length, device=x.device, dtype=x.dtype)
    t_norm = (2.0 * t + 1.0) / length - 1.0                          # align_corners=False centres
    gx = t_norm.unsqueeze(0) / factors.to(x).unsqueeze(1)          # (N, L)
    grid = torch.stack([gx, torch.zeros_like(gx)], dim=-1).unsqueeze(1)   # (N, 1, L, 2)
    out = F.grid_sample(x.unsqueeze(2), grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)
    return out.squeeze(2)


class TimeStretch(Augmentation):
    """Stretch each signal in time by r ~ logU(factor) about its centre, same length."""

    name = "time_stretch"
    ranks = (3,)

    def __init__(
        self, factor: tuple[float, float] = (0.8, 1.25), padding_mode: str = "zeros", p: float = 1.0
    ) -> None:
        super().__init__(p)
        self.factor = check_interval("time_stretch: factor", factor, low=1e-6)
        self.padding_mode = check_choice("time_stretch: padding_mode", padding_mode, PADDING_MODES)

    def is_active(self) -> bool:
        return self.factor != (1.0, 1.0)

    def sample_and_apply(self, x: Tensor, generator: torch.Generator) -> Tensor:
        lo, hi = math.log(self.factor[0]), math.log(self.factor[1])
        r = uniform(x.shape[0], lo, hi, generator, x).exp()
        return stretch1d(x, r, self.padding_mode)

    def extra_repr(self) -> str:
        return f"factor={self.factor}, padding_mode={self.padding_mode!r}, p={self.p}"
