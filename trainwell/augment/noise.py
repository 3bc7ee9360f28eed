"""Additive Gaussian noise: x' = x + σ · ε, ε ~ N(0, I) drawn from the generator.

Works on signals (N×C×L) and images (N×C×H×W). σ (`std`) is in the units of the data (after
preprocessing, usually standard deviations). Noise injection is a classic regularizer
(Bishop 1995: training with small input noise is equivalent to Tikhonov regularization).

Example:
    >>> GaussianNoise(std=0.1)(x, g)
"""
from __future__ import annotations

import torch
from torch import Tensor

from trainwell.augment._checks import check_nonnegative
from trainwell.augment.base import Augmentation


def add_noise(x: Tensor, noise: Tensor, std: float) -> Tensor:
    """x + std · noise (noise has x's shape)."""
    return x + std * noise


class GaussianNoise(Augmentation):
    """Add N(0, std²) noise to every element of the selected examples."""

    name = "gaussian_noise"
    ranks = (3, 4)

    def __init__(self, std: float = 0.1, p: float = 1.0) -> None:
        super().__init__(p)
        self.std = check_nonnegative("gaussian_noise: std", std)

    def is_active(self) -> bool:
        return self.std > 0

    def sample_and_apply(self, x: Tensor, generator: torch.Generator) -> Tensor:
        eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return add_noise(x, eps, self.std)

    def extra_repr(self) -> str:
        return f"std={self.std}, p={self.p}"
