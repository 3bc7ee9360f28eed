"""PCA (decorrelate) and PCA whitening (decorrelate + unit variance), fitted on the training set.

With X the N×D training matrix (examples flattened), μ its mean and the covariance

    Σ = (1/N) (X - μ)ᵀ (X - μ) = U diag(λ) Uᵀ,    λ_1 ≥ λ_2 ≥ ... ≥ λ_D ≥ 0,

the k leading eigenvectors U_k (D×k, columns) give

    PCA:           z = (x - μ) U_k                          shape N×k, Cov(z) = diag(λ_1..λ_k)
    PCA whitening: z = (x - μ) U_k diag(1/sqrt(λ + eps))    Cov(z) = diag(λ/(λ+eps)) ≈ I

(Pearson 1901, Hotelling 1933; whitening as in the CS231n notes). eps keeps directions with
λ ≈ 0 from being blown up to noise; where λ ≫ eps the whitened variance is ≈ 1.

inverse_transform maps back with x̂ = z U_kᵀ + μ (times sqrt(λ+eps) first when whitened). With
k = D (the default) it is the exact inverse. With k < D information is lost and x̂ is the
PROJECTION of x onto the affine span of the k components — the best rank-k reconstruction in
squared error; inverse_transform(transform(x̂)) == x̂.

Conventions: variances use 1/N (sklearn's explained_variance_ uses 1/(N-1): multiply ours by
N/(N-1)). Each component's sign is fixed so its largest-magnitude entry is positive; within a
repeated eigenvalue the components are any orthonormal basis of that eigenspace.

Example:
    >>> p = PCA(k=10).fit(train_x)          # train_x: N×D (or N×C×H×W, flattened)
    >>> z = p.transform(test_x)             # N×10
    >>> p.explained_variance_ratio.sum()    # share of the variance kept
"""
from __future__ import annotations

import torch
from torch import Tensor

from trainwell.errors import UserError
from trainwell.preprocess.base import Preprocessor, check_eps, numel

DEFAULT_EPS = 1e-5


def eigen_basis(x64: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Mean (D,), eigenvalues (D,) in descending order, eigenvectors (D×D, columns) of the
    1/N covariance of the N×D matrix `x64` (float64). Eigenvalues are clamped at 0; signs fixed
    so each eigenvector's largest-magnitude entry is positive."""
    x64 = x64.double().reshape(x64.shape[0], -1)
    mean = x64.mean(dim=0)
    xc = x64 - mean
    cov = xc.T @ xc / x64.shape[0]
    evals, evecs = torch.linalg.eigh(cov)
    evals, evecs = evals.flip(0).clamp_min(0), evecs.flip(1)
    biggest = evecs.abs().argmax(dim=0)
    signs = evecs.gather(0, biggest[None]).sign()
    return mean, evals, evecs * signs


def check_k(k: object, who: str) -> int | None:
    """k must be None (all components) or an int >= 1."""
    if k is None:
        return None
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise UserError(f"{who}: k (number of components) must be an integer >= 1 or None, got {k!r}")
    return int(k)


class PCA(Preprocessor):
    """Project onto the k leading principal components: N×... -> N×k (k=None: all D).

    Stats: `mean` (D,), `components` (k×D, rows, like sklearn's components_), `variance` (k,)
    and `total_variance` (0-d, for explained_variance_ratio).
    """

    name = "pca"
    option_names = ("k",)
    min_examples = 2
    whiten = False

    def __init__(self, k: int | None = None) -> None:
        super().__init__()
        self.k = check_k(k, self.name)

    @property
    def n_components(self) -> int:
        """k, or D when k is None (needs fit)."""
        shape = self._require_fitted("n_components")
        return self._k_for(shape)

    def _k_for(self, example_shape: tuple[int, ...]) -> int:
        return numel(example_shape) if self.k is None else self.k

    @property
    def components(self) -> Tensor:
        """k×D float64, orthonormal rows, by decreasing variance."""
        self._require_fitted("components")
        return self._stats["components"]

    @property
    def explained_variance(self) -> Tensor:
        """The k eigenvalues λ (1/N convention), descending."""
        self._require_fitted("explained_variance")
        return self._stats["variance"]

    @property
    def explained_variance_ratio(self) -> Tensor:
        """λ_j / Σ_all λ — the share of the training variance along each kept component."""
        self._require_fitted("explained_variance_ratio")
        total = self._stats["total_variance"]
        return self._stats["variance"] / total if float(total) > 0 else self._stats["variance"] * 0

    def _fit_stats(self, x64: Tensor) -> dict[str, Tensor]:
        d = x64[0].numel()
        if self.k is not None and self.k > d:
            raise UserError(f"{self.name}: k={self.k} is larger than the number of features D={d}")
        mean, evals, evecs = eigen_basis(x64)
        k = d if self.k is None else self.k
        if self.whiten and self.eps == 0 and float(evals[k - 1]) <= 0:
            raise UserError(
                f"{self.name}: component {k} has zero training variance, so whitening with eps=0 "
                f"divides by 0; use eps > 0 or a smaller k"
            )
        return {
            "mean": mean,
            "components": evecs[:, :k].T.contiguous(),
            "variance": evals[:k].contiguous(),
            "total_variance": evals.sum(),
        }

    def _stat_shapes(self, example_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        k = self._k_for(example_shape)
        d = numel(example_shape)
        return {"mean": (d,), "components": (k, d), "variance": (k,), "total_variance": ()}

    def _output_shape(self, example_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (self._k_for(example_shape),)

    def _prepare(self, stats: dict[str, Tensor]) -> dict[str, Tensor]:
        comps = stats["components"]  # k×D
        if self.whiten:
            sd = (stats["variance"] + self.eps).sqrt()
            return {"mean": stats["mean"], "project": comps.T / sd, "back": comps * sd[:, None]}
        return {"mean": stats["mean"], "project": comps.T.contiguous(), "back": comps}

    def _apply(self, x: Tensor, p: dict[str, Tensor]) -> Tensor:
        return (x.reshape(x.shape[0], -1) - p["mean"]) @ p["project"]

    def _apply_inverse(self, y: Tensor, p: dict[str, Tensor]) -> Tensor:
        assert self._example_shape is not None
        return (y @ p["back"] + p["mean"]).reshape((y.shape[0],) + self._example_shape)

    def _describe(self) -> str:
        kept = float(self.explained_variance_ratio.sum())
        return f"{self.n_components} components keep {100 * kept:.1f}% of the variance"


class PCAWhiten(PCA):
    """PCA, then divide each component by sqrt(λ + eps): N×... -> N×k with Cov ≈ I."""

    name = "pca_whiten"
    option_names = ("k", "eps")
    whiten = True

    def __init__(self, k: int | None = None, eps: float = DEFAULT_EPS) -> None:
        super().__init__(k)
        self.eps = check_eps(eps, self.name)
