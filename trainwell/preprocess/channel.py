"""Per-channel statistics (axis 1), taken over the examples and all spatial positions.

For x of shape N×C×H×W (or N×C×L, or N×C):

    mean[c] = (1 / (N·H·W)) Σ_{i,h,w} x[i, c, h, w]
    std[c]  = sqrt((1 / (N·H·W)) Σ_{i,h,w} (x[i, c, h, w] - mean[c])²)     (population, 1/M)

`ChannelMean` (VGG; Simonyan & Zisserman, 2014) subtracts C numbers, e.g. the RGB mean.
`ChannelStandardize` (ResNet; He, Zhang, Ren & Sun, 2015) also divides by the per-channel std
— the familiar ImageNet mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225) are such numbers.
A channel whose std ≤ eps is treated as constant: centered, not scaled (see `Standardize`).

Because the statistics do not depend on the position, a fitted transform applies to inputs with
a different spatial size (fit on 28×28 crops, apply to 32×32 images); the number of axes and of
channels must match.

Example:
    >>> cs = ChannelStandardize().fit(train_images)    # N×3×32×32
    >>> cs.mean, cs.std                                  # shape (3,) each
"""
from __future__ import annotations

from torch import Tensor

from trainwell.errors import UserError
from trainwell.preprocess.base import Preprocessor, channel_view, check_eps, safe_scale, shape_str
from trainwell.preprocess.standardize import DEFAULT_EPS


def channel_dims(ndim: int) -> tuple[int, ...]:
    """The axes reduced for per-channel statistics: all but axis 1."""
    return (0,) + tuple(range(2, ndim))


def channel_mean_std(x64: Tensor) -> tuple[Tensor, Tensor]:
    """float64 per-channel mean and population std, shape (C,) each."""
    x64 = x64.double()
    dims = channel_dims(x64.ndim)
    mean = x64.mean(dim=dims, keepdim=True)
    std = (x64 - mean).square().mean(dim=dims, keepdim=True).sqrt()
    return mean.reshape(-1), std.reshape(-1)


def _short(t: Tensor) -> str:
    """The first 8 values rounded to 4 digits, for __repr__."""
    values = [round(v, 4) for v in t.tolist()]
    return str(values[:8])[:-1] + (", ...]" if len(values) > 8 else "]")


class _PerChannel(Preprocessor):
    layout = "N×C×H×W, N×C×L or N×C"

    def _check_shape(self, x: Tensor, expected: tuple[int, ...], who: str, what: str) -> None:
        if x.ndim - 1 != len(expected) or x.shape[1] != expected[0]:
            raise UserError(
                f"{self.name} was fitted on {what} of shape {shape_str(expected)} "
                f"({expected[0]} channels, {len(expected)} axes) but {who} got {shape_str(x.shape[1:])}; "
                f"the spatial size may differ, the channels (axis 1) and the number of axes may not"
            )

    @property
    def mean(self) -> Tensor:
        """Per-channel float64 mean, shape (C,)."""
        self._require_fitted("mean")
        return self._stats["mean"]


class ChannelMean(_PerChannel):
    """VGG-style: subtract the per-channel training mean. Stats: `mean` (C,)."""

    name = "channel_mean"

    def __init__(self) -> None:
        super().__init__()

    def _fit_stats(self, x64: Tensor) -> dict[str, Tensor]:
        return {"mean": channel_mean_std(x64)[0]}

    def _stat_shapes(self, example_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        return {"mean": (example_shape[0],)}

    def _apply(self, x: Tensor, p: dict[str, Tensor]) -> Tensor:
        return x - channel_view(p["mean"], x.ndim)

    def _apply_inverse(self, y: Tensor, p: dict[str, Tensor]) -> Tensor:
        return y + channel_view(p["mean"], y.ndim)

    def _describe(self) -> str:
        return f"mean={_short(self._stats['mean'])}"


class ChannelStandardize(_PerChannel):
    """ResNet-style: per-channel (x - mean) / std. Stats: `mean`, `std` (C,)."""

    name = "channel_standardize"
    option_names = ("eps",)

    def __init__(self, eps: float = DEFAULT_EPS) -> None:
        super().__init__()
        self.eps = check_eps(eps, self.name)

    @property
    def std(self) -> Tensor:
        """Per-channel float64 population std (before the eps rule), shape (C,)."""
        self._require_fitted("std")
        return self._stats["std"]

    def _fit_stats(self, x64: Tensor) -> dict[str, Tensor]:
        if x64[:, 0].numel() < 2:
            raise UserError(f"{self.name}.fit needs at least 2 values per channel to estimate a std, got 1")
        mean, std = channel_mean_std(x64)
        return {"mean": mean, "std": std}

    def _stat_shapes(self, example_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        return {"mean": (example_shape[0],), "std": (example_shape[0],)}

    def _prepare(self, stats: dict[str, Tensor]) -> dict[str, Tensor]:
        return {"mean": stats["mean"], "scale": safe_scale(stats["std"], self.eps)}

    def _apply(self, x: Tensor, p: dict[str, Tensor]) -> Tensor:
        return (x - channel_view(p["mean"], x.ndim)) / channel_view(p["scale"], x.ndim)

    def _apply_inverse(self, y: Tensor, p: dict[str, Tensor]) -> Tensor:
        return y * channel_view(p["scale"], y.ndim) + channel_view(p["mean"], y.ndim)

    def _describe(self) -> str:
        return f"mean={_short(self._stats['mean'])}, std={_short(self._stats['std'])}"
