"""Zero-centering: subtract the per-feature mean of the training set (and its AlexNet form).

    mean[j] = (1/N) Σ_i x[i, j]          x'[i, j] = x[i, j] - mean[j]

where j runs over every element of one example (all axes but the first). On the training data
the result has mean exactly 0 per feature. Zero-centered inputs fix the "all inputs positive ->
all gradients on a neuron's weights share a sign -> zig-zag updates" problem of the first layer.

`MeanImage` is the same arithmetic on images (or signals): the "mean image" of AlexNet
(Krizhevsky, Sutskever & Hinton, 2012) — a whole C×H×W array, e.g. 3×32×32 for CIFAR-10 — is
subtracted from every image. Compare `ChannelMean` (VGG): only C numbers.

Example:
    >>> c = Center().fit(train_x)          # train_x: N×F
    >>> c.transform(test_x)                # test_x - mean(train_x)
    >>> c.inverse_transform(c.transform(test_x))   # == test_x (up to rounding)
"""
from __future__ import annotations

from torch import Tensor

from trainwell.preprocess.base import Preprocessor


def feature_mean(x: Tensor) -> Tensor:
    """Mean over the example axis, in float64: shape x.shape[1:]."""
    return x.double().mean(dim=0)


def center(x: Tensor, mean: Tensor) -> Tensor:
    """x - mean (mean broadcasts over the example axis)."""
    return x - mean


class Center(Preprocessor):
    """Subtract the per-feature training mean. Stats: `mean` (shape of one example)."""

    name = "center"

    def __init__(self) -> None:
        super().__init__()

    @property
    def mean(self) -> Tensor:
        """The fitted float64 mean (one example's shape)."""
        self._require_fitted("mean")
        return self._stats["mean"]

    def _fit_stats(self, x64: Tensor) -> dict[str, Tensor]:
        return {"mean": feature_mean(x64)}

    def _stat_shapes(self, example_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        return {"mean": example_shape}

    def _apply(self, x: Tensor, p: dict[str, Tensor]) -> Tensor:
        return center(x, p["mean"])

    def _apply_inverse(self, y: Tensor, p: dict[str, Tensor]) -> Tensor:
        return y + p["mean"]


class MeanImage(Center):
    """AlexNet: subtract the mean training image (C×H×W, or C×L for signals). Needs ≥ 3 axes.

    For tabular N×F data use `Center` (the same arithmetic).
    """

    name = "mean_image"
    min_ndim = 3
    layout = "N×C×H×W images or N×C×L signals"
