"""Min-max scaling of each feature to [-1, 1] (or any [low, high]) using the training range.

    mid[j]  = (max[j] + min[j]) / 2,     half[j] = (max[j] - min[j]) / 2
    x'[i, j] = m + (x[i, j] - mid[j]) · h / half[j],   m = (high + low) / 2,  h = (high - low) / 2

so on the training data every feature spans exactly [low, high] (min -> low, max -> high).
Validation/test values outside the training range land outside [low, high]: they are NOT
clipped (clipping would hide a distribution shift and make the transform non-invertible).

Constant features: where half[j] ≤ eps the feature is only shifted, x' = m + (x - mid): the
constant maps to the middle m (0 for [-1, 1]) and a different test value keeps its raw offset.

Example:
    >>> mm = MinMax().fit(train_x)
    >>> mm.transform(train_x).amin(0), mm.transform(train_x).amax(0)   # -1 and 1 per feature
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from trainwell.errors import UserError
from trainwell.preprocess.base import Preprocessor, check_eps, safe_scale

DEFAULT_EPS = 1e-8


def minmax_scale(x: Tensor, mid_in: Tensor, gain: Tensor, mid_out: float) -> Tensor:
    """mid_out + (x - mid_in) · gain (gain = half-width out / half-width in)."""
    return (x - mid_in) * gain + mid_out


class MinMax(Preprocessor):
    """Per-feature affine map of the training [min, max] onto [low, high]. Stats: `min`, `max`."""

    name = "minmax"
    option_names = ("low", "high", "eps")

    def __init__(self, low: float = -1.0, high: float = 1.0, eps: float = DEFAULT_EPS) -> None:
        super().__init__()
        for field, v in (("low", low), ("high", high)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise UserError(f"{self.name}: {field} must be a finite number, got {v!r}")
        if not low < high:
            raise UserError(f"{self.name}: low must be < high, got low={low!r}, high={high!r}")
        self.low = float(low)
        self.high = float(high)
        self.eps = check_eps(eps, self.name)

    def _fit_stats(self, x64: Tensor) -> dict[str, Tensor]:
        return {"min": x64.amin(dim=0), "max": x64.amax(dim=0)}

    def _stat_shapes(self, example_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        return {"min": example_shape, "max": example_shape}

    def _prepare(self, stats: dict[str, Tensor]) -> dict[str, Tensor]:
        half_in = (stats["max"] - stats["min"]) / 2
        gain = ((self.high - self.low) / 2) / safe_scale(half_in, self.eps)
        gain = torch.where(half_in > self.eps, gain, torch.ones_like(gain))
        return {"mid_in": (stats["max"] + stats["min"]) / 2, "gain": gain}

    def _apply(self, x: Tensor, p: dict[str, Tensor]) -> Tensor:
        return minmax_scale(x, p["mid_in"], p["gain"], (self.high + self.low) / 2)

    def _apply_inverse(self, y: Tensor, p: dict[str, Tensor]) -> Tensor:
        return (y - (self.high + self.low) / 2) / p["gain"] + p["mid_in"]

    @property
    def n_constant(self) -> int:
        """Features whose training half-range is ≤ eps (shifted only)."""
        self._require_fitted("n_constant")
        return int(((self._stats["max"] - self._stats["min"]) / 2 <= self.eps).sum())

    def _describe(self) -> str:
        n = self.n_constant
        return f"{n} constant feature{'s' if n != 1 else ''}" if n else ""
