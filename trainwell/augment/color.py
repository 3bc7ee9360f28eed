"""Colour jitter (images N×C×H×W): random brightness, contrast, saturation and hue per example,
applied in that order (torchvision shuffles the order; a fixed order keeps it one pass).

With gray(x) = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601 luma; gray(x) = x when C = 1):

    brightness  x' = b · x                                b ~ U(max(0, 1 - B), 1 + B)
    contrast    x' = c · (x - m) + m,  m = mean_{H,W} gray(x)     c ~ U(max(0, 1 - Cn), 1 + Cn)
    saturation  x' = s · (x - gray(x)) + gray(x)          s ~ U(max(0, 1 - S), 1 + S)
    hue         x' = Y⁻¹ R(2π h) Y x                       h ~ U(-Hu, Hu), Hu <= 0.5 (turns)

where Y is the RGB -> YIQ matrix (NTSC) and R(θ) rotates the chroma plane (I, Q) by θ, leaving
the luma Y unchanged: a hue shift that needs no RGB↔HSV branches (it differs slightly from
HSV's hue but keeps luma). All four are linear, so `color_jitter` applies them as ONE batched
affine map per example (one `baddbmm` over the batch):

    x' = A x + v,   A = c·b · Y⁻¹R Y · S_s,   S_s = s·I + (1 - s)·1 lᵀ,   v = (1 - c)·b·m₀ · (A 1)/(c·b)

with l the luma weights and m₀ = mean gray(x) of the input — equal to the four steps in order
(a test checks it against the step-by-step functions below). Colour jitter is the "colour" augmentation of AlexNet's lineage
(Krizhevsky et al. 2012 used PCA colour noise; Szegedy et al. 2015 photometric distortions).

Saturation and hue need RGB (C = 3); other images (C = 1 grayscale, or any C without them)
get brightness and contrast, about the channel-mean level.
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

_YIQ = torch.tensor(RGB_TO_YIQ, dtype=torch.float64)
_YIQ_INV = torch.linalg.inv(_YIQ)


def gray(x: Tensor) -> Tensor:
    """BT.601 luma of N×3×H×W images (N×1×H×W); the channel mean for C != 3 (x itself for C = 1)."""
    if x.shape[1] != 3:
        return x.mean(dim=1, keepdim=True)
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
    yiq = _YIQ.to(angle.device)
    inv = _YIQ_INV.to(angle.device)
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


def jitter_affine(
    brightness: Tensor, contrast: Tensor, saturation: Tensor, angle: Tensor | None, channels: int
) -> tuple[Tensor, Tensor]:
    """Per-example (A, u), float64: x' = A x + u·m₀ with A (N, C, C), u (N, C).

    For C != 3 the saturation and angle are ignored (A = c·b·I, u = (1 - c)·b·1).
    """
    b, c = brightness.double(), contrast.double()
    n = b.shape[0]
    if channels != 3:
        m = torch.eye(channels, dtype=torch.float64, device=b.device).expand(n, channels, channels)
    else:
        s = saturation.double().view(n, 1, 1)
        luma = torch.tensor(LUMA, dtype=torch.float64, device=b.device)
        eye = torch.eye(3, dtype=torch.float64, device=b.device)
        m = s * eye + (1 - s) * luma.expand(3, 3)                  # rows: s e_i + (1 - s) lᵀ
        if angle is not None:
            m = hue_matrices(angle) @ m
    a = (b * c).view(n, 1, 1) * m
    u = ((1 - c) * b).view(n, 1) * m.sum(dim=2)                   # (1 - c)·b · (M 1)
    return a, u


def color_jitter(
    x: Tensor,
    brightness: Tensor,
    contrast: Tensor,
    saturation: Tensor,
    angle: Tensor | None = None,
    keep: Tensor | None = None,
) -> Tensor:
    """Brightness, contrast, saturation, hue (radians) in that order, fused: x' = A x + u·m₀.

    x: N×C×H×W (saturation and hue act on C = 3 only); factors (N,). Examples whose `keep`
    (bool (N,)) is False get A = I, u = 0 and come back exactly unchanged.
    """
    n, ch, h, w = x.shape
    a, u = jitter_affine(brightness, contrast, saturation, angle, ch)
    if keep is not None:
        a = torch.where(keep.view(-1, 1, 1), a, torch.eye(ch, dtype=a.dtype, device=a.device))
        u = torch.where(keep.view(-1, 1), u, 0.0)
    m0 = gray(x).mean(dim=(1, 2, 3))
    shift = (u.to(x.dtype) * m0.unsqueeze(1)).unsqueeze(2)            # (N, C, 1)
    out = torch.baddbmm(shift, a.to(x.dtype), x.reshape(n, ch, h * w))
    return out.view(n, ch, h, w)


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
        return self.sample_and_apply_masked(x, generator, None)

    def sample_and_apply_masked(self, x: Tensor, generator: torch.Generator, keep: Tensor | None) -> Tensor:
        n, c = x.shape[:2]
        colour = c == 3
        if not colour and c != 1 and (self.saturation > 0 or self.hue > 0):
            raise UserError(
                f"color_jitter: saturation and hue need RGB images (C=3) or grayscale (C=1, "
                f"where they are skipped), got C={c}; set saturation=0 and hue=0"
            )
        like = torch.empty(0, dtype=torch.float64, device=x.device)
        one = torch.ones(n, dtype=torch.float64, device=x.device)
        b = self._factor(n, self.brightness, generator, like) if self.brightness > 0 else one
        ct = self._factor(n, self.contrast, generator, like) if self.contrast > 0 else one
        s = self._factor(n, self.saturation, generator, like) if colour and self.saturation > 0 else one
        angle = None
        if colour and self.hue > 0:
            angle = uniform(n, -self.hue, self.hue, generator, like) * (2 * math.pi)
        return color_jitter(x, b, ct, s, angle, keep)

    def extra_repr(self) -> str:
        return (
            f"brightness={self.brightness}, contrast={self.contrast}, saturation={self.saturation}, "
            f"hue={self.hue}, p={self.p}"
        )
