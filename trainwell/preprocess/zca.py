"""ZCA whitening ("zero-phase component analysis"; Bell & Sejnowski, 1997): whiten, keep the shape.

With the training covariance Σ = U diag(λ) Uᵀ (1/N convention, see `pca.py`) and mean μ,

    W = U diag(1 / sqrt(λ + eps)) Uᵀ          (symmetric, D×D)
    x' = (x - μ) W                             same shape as x (examples flattened, then restored)

On the training data Cov(x') = U diag(λ/(λ+eps)) Uᵀ ≈ I. Every whitening matrix has the form
Q W_pca for an orthogonal Q; ZCA picks the one that keeps the output closest to the input
(it minimizes E‖(x - μ) - x'‖² among whitenings — Kessy, Lewin & Strimmer, 2018), which is why
ZCA-whitened images still look like (edge-enhanced) images while PCA-whitened data does not.
Coates, Lee & Ng (2011) used it on contrast-normalized image patches with a fairly large eps
(0.1): eps damps the low-variance, mostly-noise directions instead of amplifying them.

inverse_transform is exact: x = x' W⁻¹ + μ with W⁻¹ = U diag(sqrt(λ + eps)) Uᵀ.

Memory: D×D float64 (D = 3072 for 3×32×32 images: 75 MB).

Example:
    >>> z = ZCAWhiten(eps=1e-2).fit(train_images)       # N×3×32×32
    >>> z.transform(test_images).shape                   # N×3×32×32
"""
from __future__ import annotations

from torch import Tensor

from trainwell.errors import UserError
from trainwell.preprocess.base import Preprocessor, check_eps, numel
from trainwell.preprocess.pca import DEFAULT_EPS, eigen_basis


def zca_matrix(eigenvalues: Tensor, eigenvectors: Tensor, eps: float, power: float = -0.5) -> Tensor:
    """U diag((λ + eps)^power) Uᵀ: the ZCA matrix for power -1/2, its inverse for +1/2."""
    return (eigenvectors * (eigenvalues + eps).pow(power)) @ eigenvectors.T


class ZCAWhiten(Preprocessor):
    """ZCA whitening: (x - μ) W with W = Σ^(-1/2) (eps-regularized). Stats: `mean`,
    `eigenvalues` (D,), `eigenvectors` (D×D)."""

    name = "zca_whiten"
    option_names = ("eps",)
    min_examples = 2

    def __init__(self, eps: float = DEFAULT_EPS) -> None:
        super().__init__()
        self.eps = check_eps(eps, self.name)

    @property
    def matrix(self) -> Tensor:
        """The float64 whitening matrix W (D×D, symmetric)."""
        self._require_fitted("matrix")
        return zca_matrix(self._stats["eigenvalues"], self._stats["eigenvectors"], self.eps)

    def _fit_stats(self, x64: Tensor) -> dict[str, Tensor]:
        mean, evals, evecs = eigen_basis(x64)
        if self.eps == 0 and float(evals[-1]) <= 0:
            raise UserError(
                f"{self.name}: the training covariance is singular (smallest eigenvalue {float(evals[-1]):.3g}); "
                f"use eps > 0"
            )
        return {"mean": mean, "eigenvalues": evals, "eigenvectors": evecs}

    def _stat_shapes(self, example_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        d = numel(example_shape)
        return {"mean": (d,), "eigenvalues": (d,), "eigenvectors": (d, d)}

    def _prepare(self, stats: dict[str, Tensor]) -> dict[str, Tensor]:
        evals, evecs = stats["eigenvalues"], stats["eigenvectors"]
        return {
            "mean": stats["mean"],
            "w": zca_matrix(evals, evecs, self.eps, -0.5),
            "w_inv": zca_matrix(evals, evecs, self.eps, 0.5),
        }

    def _apply(self, x: Tensor, p: dict[str, Tensor]) -> Tensor:
        return ((x.reshape(x.shape[0], -1) - p["mean"]) @ p["w"]).reshape(x.shape)

    def _apply_inverse(self, y: Tensor, p: dict[str, Tensor]) -> Tensor:
        return (y.reshape(y.shape[0], -1) @ p["w_inv"] + p["mean"]).reshape(y.shape)
