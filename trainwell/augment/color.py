"""Colour jitter (images N×C×H×W): random brightness, contrast, saturation and hue per example,
applied in that order (torchvision shuffles the order; a fixed order keeps it one pass).

With gray(x) = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601 luma; gray(x) = x when C = 1):

    brightness  x' = b · x                                b ~ U(max(0, 1 - B), 1 + B)
    contrast    x' = c · (x - m) + m,  m = mean_{H,W} gray(x)     c ~ U(max(0, 1 - Cn), 1 + Cn)
    saturation  x' = s · (x - gray(x)) + gray(x)          s ~ U(max(0, 1 - S), 1 + S)
    hue         x' = Y⁻¹ R(2π h) Y x                       h ~ U(-Hu, Hu), Hu <= 0.5 (turns)

where Y is the RGB -> YIQ matrix (NTSC) and R(θ) rotates the chroma plane (I, Q) by θ, leaving
the luma Y unchanged: a hue shift that needs no RGB↔HSV branches (it differs slightly from
HSV's hue but keeps brightness exactly). All four are per-example broadcasts or one batched
3×3 matrix product. Colour jitter is the "colour" augmentation of AlexNet's lineage
(Krizhevsky et al. 2012 used PCA colour noise; Szegedy et al. 2015 photometric distortions).

Grayscale images (C = 1) get brightness and contrast only; saturation and hue need C = 3.
Values are not clamped (the data are usually standardized, not in [0, 1]).

Example:
    >>> ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)(images, g)
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from trainwell.augment._checks import check_nonnegative, per_example, uniform
from trainwell.augment.base import Augmentation
from trainwell.errors import UserError

LUMA = (0.299, 0.587, 0.114)
RGB_TO_YIQ = (
    (0.299, 0.587, 0.114),
    (0.5959, -0.2746, -0.3213),
    (0.2115, -0.5227, 0.3112),
)


def gray(x: Tensor) -> Tensor:
    """BT.601 luma of N×3×H×W images (N×1×H×W); the image itself when C = 1."""
    if x.shape[1] == 1:
        return x
    w = torch.tensor(LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True)


def adjust_brightness(x: Tensor, factor: Tensor) -> Tensor:
    """factor_n · x_n (factor: (N,))."""
    return x * per_example(factor.to(x), x)


def adjust_contrast(x: Tensor, factor: Tensor) -> Tensor:
    """Scale each image about its mean gray level: c·(x - m) + m."""
    m = gray(x).mean(dim=(1, 2, 3), keepdim=True)
    f = per_example(factor.to(x), x)
    return f * (x - m) + m


def adjust_saturation(x: Tensor, factor: Tensor) -> Tensor:
    """Blend each RGB image with its gray version: s·(x - gray) + gray (s = 0: grayscale)."""
    g = gray(x)
    f = per_example(factor.to(x), x)
    return f * (x - g) + g


def hue_matrices(angle: Tensor) -> Tensor:
    """(N,) angles in radians -> (N, 3, 3) RGB matrices Y⁻¹ R(angle) Y (YIQ chroma rotation)."""
    yiq = torch.tensor(RGB_TO_YIQ, dtype=torch.float64, device=angle.device)
    inv = torch.linalg.inv(yiq)
    a = angle.double()
    rot = torch.zeros(a.shape[0], 3, 3, dtype=torch.float64, device=angle.device)
    rot[:, 0, 0] = 1.0
    rot[:, 1, 1] = a.cos()
    rot[:, 1, 2] = -a.sin()
    rot[:, 2, 1] = a.sin()
    rot[:, 2, 2] = a.cos()
    return inv @ rot @ yiq


def adjust_hue(x: Tensor, angle: Tensor) -> Tensor:
    """Rotate the chroma of each RGB image by angle_n radians (luma unchanged)."""
    m = hue_matrices(angle).to(x.dtype)
    return torch.einsum("nij,njhw->nihw", m, x)


class ColorJitter(Augmentation):
    """Random brightness, contrast, saturation (factors 1 ± strength) and hue (± turns) per example."""

    name = "color_jitter"
    ranks = (4,)

    def __init__(
        self,
        brightness: float = 0.4,
        contrast: float = 0.4,
        saturation: float = 0.4,
        hue: float = 0.1,
        p: float = 1.0,
    ) -> None:
        super().__init__(p)
        self.brightness = check_nonnegative("color_jitter: brightness", brightness)
        self.contrast = check_nonnegative("color_jitter: contrast", contrast)
        self.saturation = check_nonnegative("color_jitter: saturation", saturation)
        self.hue = check_nonnegative("color_jitter: hue", hue)
        if self.hue > 0.5:
            raise UserError(f"color_jitter: hue is a fraction of a turn in [0, 0.5], got {hue!r}")

    def is_active(self) -> bool:
        return any(v > 0 for v in (self.brightness, self.contrast, self.saturation, self.hue))

    def _factor(self, n: int, strength: float, generator: torch.Generator, x: Tensor) -> Tensor:
        return uniform(n, max(0.0, 1.0 - strength), 1.0 + strength, generator, x)

    def sample_and_apply(self, x: Tensor, generator: torch.Generator) -> Tensor:
        n, c = x.shape[:2]
        colour = self.saturation > 0 or self.hue > 0
        if colour and c not in (1, 3):
            raise UserError(
                f"color_jitter: saturation and hue need RGB images (C=3) or grayscale (C=1, "
                f"where they are skipped), got C={c}; set saturation=0 and hue=0"
            )
        if self.brightness > 0:
            x = adjust_brightness(x, self._factor(n, self.brightness, generator, x))
        if self.contrast > 0:
            x = adjust_contrast(x, self._factor(n, self.contrast, generator, x))
        if c == 3 and self.saturation > 0:
            x = adjust_saturation(x, self._factor(n, self.saturation, generator, x))
        if c == 3 and self.hue > 0:
            x = adjust_hue(x, uniform(n, -self.hue, self.hue, generator, x) * (2 * math.pi))
        return x

    def extra_repr(self) -> str:
        return (
            f"brightness={self.brightness}, contrast={self.contrast}, saturation={self.saturation}, "
            f"hue={self.hue}, p={self.p}"
        )
