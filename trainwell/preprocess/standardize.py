"""Standardization: zero mean and unit standard deviation, per feature or with one global scale.

Per feature (`Standardize`), with j over every element of one example:

    mean[j] = (1/N) Σ_i x[i, j]
    std[j]  = sqrt((1/N) Σ_i (x[i, j] - mean[j])²)        (population std, ddof = 0)
    x'[i, j] = (x[i, j] - mean[j]) / s[j],   s[j] = std[j] if std[j] > eps else 1

so on the training data every non-constant feature has mean 0 and std exactly 1 (with the same
1/N convention; torch.std's default 1/(N-1) gives sqrt(N/(N-1))).

Constant features: a feature whose training std is ≤ eps is treated as constant — it is centered
(it becomes 0 on the training data) but not scaled (s = 1). A test value that differs from the
constant keeps its raw difference instead of being multiplied by 1/eps; this is what
sklearn.preprocessing.StandardScaler does as well. `n_constant` counts such features.

`GlobalStandardize` uses one scalar mean and std over all N·D values (e.g. MNIST's 0.1307 /
0.3081): the relative scale between features is kept.

Why: features on a common scale make the loss less sensitive to small changes of the weights,
which makes it easier to optimize (lectures, "data preprocessing").

Example:
    >>> s = Standardize().fit(train_x)      # N×F
    >>> z = s.transform(val_x)              # (val_x - train mean) / train std
"""
from __future__ import annotations

from torch import Tensor

from trainwell.errors import UserError
from trainwell.preprocess.base import Preprocessor, check_eps, safe_scale, shape_str

DEFAULT_EPS = 1e-8


def mean_std(x64: Tensor, dim: int | tuple[int, ...] | None = 0) -> tuple[Tensor, Tensor]:
    """float64 mean and population std (1/N) over `dim` (None: over all elements)."""
    x64 = x64.double()
    if dim is None:
        mean = x64.mean()
        std = (x64 - mean).square().mean().sqrt()
    else:
        mean = x64.mean(dim=dim, keepdim=True)
        std = (x64 - mean).square().mean(dim=dim, keepdim=True).sqrt()
        mean, std = mean.squeeze(dim), std.squeeze(dim)
    return mean, std


def standardize(x: Tensor, mean: Tensor, scale: Tensor) -> Tensor:
    """(x - mean) / scale, broadcasting the statistics over the example axis."""
    return (x - mean) / scale


class Standardize(Preprocessor):
    """Per-feature (x - mean) / std from the training set. Stats: `mean`, `std` (example shape)."""

    name = "standardize"
    option_names = ("eps",)
    min_examples = 2

    def __init__(self, eps: float = DEFAULT_EPS) -> None:
        super().__init__()
        self.eps = check_eps(eps, self.name)

    @property
    def mean(self) -> Tensor:
        self._require_fitted("mean")
        return self._stats["mean"]

    @property
    def std(self) -> Tensor:
        """The fitted population std (before the eps rule for constant features)."""
        self._require_fitted("std")
        return self._stats["std"]

    @property
    def n_constant(self) -> int:
        """How many features have training std ≤ eps (centered only, not scaled)."""
        return int((self.std <= self.eps).sum())

    def _fit_stats(self, x64: Tensor) -> dict[str, Tensor]:
        mean, std = mean_std(x64, dim=0)
        return {"mean": mean, "std": std}

    def _stat_shapes(self, example_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        return {"mean": example_shape, "std": example_shape}

    def _prepare(self, stats: dict[str, Tensor]) -> dict[str, Tensor]:
        return {"mean": stats["mean"], "scale": safe_scale(stats["std"], self.eps)}

    def _apply(self, x: Tensor, p: dict[str, Tensor]) -> Tensor:
        return standardize(x, p["mean"], p["scale"])

    def _apply_inverse(self, y: Tensor, p: dict[str, Tensor]) -> Tensor:
        return y * p["scale"] + p["mean"]

    def _describe(self) -> str:
        n = self.n_constant
        return f"{n} constant feature{'s' if n != 1 else ''}" if n else ""


class GlobalStandardize(Standardize):
    """(x - m) / s with ONE scalar mean m and std s over all training values. Stats: 0-d tensors.

    Only the number of axes must match at transform time: a scalar applies to any example shape.
    """

    name = "global_standardize"
    min_examples = 1

    def _fit_stats(self, x64: Tensor) -> dict[str, Tensor]:
        mean, std = mean_std(x64, dim=None)
        return {"mean": mean, "std": std}

    def _stat_shapes(self, example_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        return {"mean": (), "std": ()}

    def _check_shape(self, x: Tensor, expected: tuple[int, ...], who: str, what: str) -> None:
        if x.ndim - 1 != len(expected):
            raise UserError(
                f"{self.name} was fitted on {what} of shape {shape_str(expected)} ({len(expected)} axes) "
                f"but {who} got {shape_str(x.shape[1:])} ({x.ndim - 1} axes)"
            )

    def _describe(self) -> str:
        return f"mean={float(self._stats['mean']):.6g}, std={float(self._stats['std']):.6g}"
