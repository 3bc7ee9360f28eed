"""Random amplitude scaling: x'_i = s_i · x_i with s_i ~ U(low, high) per example.

Works on signals (N×C×L) and images (N×C×H×W); all channels of an example share s_i.
A classifier should not care about overall gain (a louder recording, a brighter sensor).

Example:
    >>> AmplitudeScale(scale=(0.8, 1.2))(x, g)
"""
from __future__ import annotations

import torch
from torch import Tensor

from trainwell.augment._checks import check_interval, per_example, uniform
from trainwell.augment.base import Augmentation


def amplitude_scale(x: Tensor, scales: Tensor) -> Tensor:
    """x_i · scales_i for each example i (scales: (N,))."""
    return x * per_example(scales.to(x), x)


class AmplitudeScale(Augmentation):
    """Multiply each example by s ~ U(scale[0], scale[1])."""

    name = "amplitude_scale"
    ranks = (3, 4)

    def __init__(self, scale: tuple[float, float] = (0.8, 1.2), p: float = 1.0) -> None:
        super().__init__(p)
        self.scale = check_interval("amplitude_scale: scale", scale)

    def is_active(self) -> bool:
        return self.scale != (1.0, 1.0)

    def sample_and_apply(self, x: Tensor, generator: torch.Generator) -> Tensor:
        return amplitude_scale(x, uniform(x.shape[0], *self.scale, generator, x))

    def extra_repr(self) -> str:
        return f"scale={self.scale}, p={self.p}"
