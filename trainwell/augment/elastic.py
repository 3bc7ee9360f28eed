"""Elastic distortion (Simard, Steinkraus & Platt, "Best Practices for Convolutional Neural
Networks Applied to Visual Document Analysis", 2003), images N×C×H×W.

Per example, a random displacement field u(i, j) ~ U(-1, 1)² (one value per pixel and axis) is
smoothed by a normalized Gaussian kernel of standard deviation σ pixels and scaled by α:

    d = α · (G_σ * u)              x'(p) = x(p + d(p))    (bilinear, one grid_sample)

Small σ gives random jitter, large σ almost a translation; σ ≈ 4, α ≈ 34 on 28×28 digits are
the paper's values. Away from the border each component of d has variance α²/3 · (Σ_k g_k²)²,
g the 1-D kernel (the 2-D kernel is separable); the convolution uses zero padding, so the
field fades near the border. Kernel radius ⌈3σ⌉.

Example:
    >>> ElasticDistortion(alpha=34.0, sigma=4.0)(digits, g)
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from trainwell.augment._checks import check_choice, check_nonnegative, check_positive
from trainwell.augment.base import Augmentation

PADDING_MODES = ("zeros", "border", "reflection")


def gaussian_kernel1d(sigma: float, dtype: torch.dtype = torch.float32, device=None) -> Tensor:
    """Normalized 1-D Gaussian exp(-t²/2σ²) on t = -⌈3σ⌉..⌈3σ⌉ (sums to 1)."""
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=dtype, device=device)
    k = torch.exp(-(t * t) / (2 * sigma * sigma))
    return k / k.sum()


def smooth(field: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of an N×K×H×W field, each channel on its own, zero padding."""
    k = gaussian_kernel1d(sigma, field.dtype, field.device)
    r = k.numel() // 2
    ch = field.shape[1]
    out = F.conv2d(field, k.view(1, 1, -1, 1).expand(ch, 1, -1, 1), padding=(r, 0), groups=ch)
    return F.conv2d(out, k.view(1, 1, 1, -1).expand(ch, 1, 1, -1), padding=(0, r), groups=ch)


def elastic_field(
    n: int, height: int, width: int, alpha: float, sigma: float, generator: torch.Generator, like: Tensor
) -> Tensor:
    """Displacements in pixels, N×2×H×W (channel 0: x/columns, 1: y/rows): α · G_σ * U(-1, 1)."""
    u = torch.rand(n, 2, height, width, generator=generator, device=like.device, dtype=like.dtype) * 2 - 1
    return alpha * smooth(u, sigma)


def warp_displacement(x: Tensor, disp: Tensor, padding_mode: str = "zeros") -> Tensor:
    """x'(p) = x(p + disp(p)) for x N×C×H×W and disp N×2×H×W in pixels (x then y)."""
    n, _, h, w = x.shape
    ys = (2 * torch.arange(h, device=x.device, dtype=x.dtype) + 1) / h - 1
    xs = (2 * torch.arange(w, device=x.device, dtype=x.dtype) + 1) / w - 1
    base = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)           # H×W×2 (x, y)
    scale = torch.tensor([2 / w, 2 / h], dtype=x.dtype, device=x.device)
    grid = base.unsqueeze(0) + disp.to(x).permute(0, 2, 3, 1) * scale
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)


class ElasticDistortion(Augmentation):
    """Warp each image by its own smoothed random displacement field (alpha pixels, sigma)."""

    name = "elastic"
    ranks = (4,)

    def __init__(self, alpha: float = 34.0, sigma: float = 4.0, padding_mode: str = "zeros", p: float = 1.0) -> None:
        super().__init__(p)
        self.alpha = check_nonnegative("elastic: alpha", alpha)
        self.sigma = check_positive("elastic: sigma", sigma)
        self.padding_mode = check_choice("elastic: padding_mode", padding_mode, PADDING_MODES)

    def is_active(self) -> bool:
        return self.alpha > 0

    def sample_and_apply(self, x: Tensor, generator: torch.Generator) -> Tensor:
        n, _, h, w = x.shape
        disp = elastic_field(n, h, w, self.alpha, self.sigma, generator, x)
        return warp_displacement(x, disp, self.padding_mode)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, sigma={self.sigma}, padding_mode={self.padding_mode!r}, p={self.p}"
