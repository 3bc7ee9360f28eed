"""Random affine transform (images N×C×H×W): rotation, translation, scale and shear in one
`F.affine_grid` + `F.grid_sample` pass for the whole batch.

In pixel coordinates centred on the image (x to the right, y down), an input point p moves to

    p' = A p + t,    A = R(θ) · Sh(φ) · s,    R(θ) = [[cos θ, sin θ], [-sin θ, cos θ]],
    Sh(φ) = [[1, tan φ], [0, 1]]

so a positive θ turns the picture counter-clockwise as displayed, t = (tx, ty) pixels moves it
right/down, s > 1 enlarges it. grid_sample needs the inverse map, written in the normalized
coordinates of align_corners=False (p = D u, D = diag(W/2, H/2)):

    u_in = D⁻¹ A⁻¹ D u_out - D⁻¹ A⁻¹ t

Per example: θ ~ U(-degrees, degrees), tx ~ U(-translate, translate)·W, ty likewise ·H,
s ~ U(scale), φ ~ U(-shear, shear) degrees. Outside the image: `padding_mode` (zeros default).

Example:
    >>> RandomAffine(degrees=15, translate=0.1, scale=(0.9, 1.1), shear=5)(images, g)
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from trainwell.augment._checks import check_choice, check_interval, check_nonnegative, uniform
from trainwell.augment.base import Augmentation

PADDING_MODES = ("zeros", "border", "reflection")


def affine_theta(
    angle: Tensor, translate: Tensor, scale: Tensor, shear: Tensor, height: int, width: int
) -> Tensor:
    """(N, 2, 3) affine_grid matrices; angle and shear in degrees (N,), translate (N, 2) pixels (x, y)."""
    a = angle * (math.pi / 180)
    sh = torch.tan(shear * (math.pi / 180))
    cos, sin = a.cos(), a.sin()
    # A = R · Sh · s
    fwd = torch.stack(
        [
            torch.stack([cos, cos * sh + sin], dim=-1),
            torch.stack([-sin, -sin * sh + cos], dim=-1),
        ],
        dim=-2,
    ) * scale.view(-1, 1, 1)
    det = fwd[:, 0, 0] * fwd[:, 1, 1] - fwd[:, 0, 1] * fwd[:, 1, 0]           # = s² (rotation, shear: det 1)
    inv = torch.stack(
        [torch.stack([fwd[:, 1, 1], -fwd[:, 0, 1]], -1), torch.stack([-fwd[:, 1, 0], fwd[:, 0, 0]], -1)], -2
    ) / det.view(-1, 1, 1)                                                   # A⁻¹ of a 2×2, (N, 2, 2)
    d = torch.tensor([width / 2, height / 2], dtype=inv.dtype, device=inv.device)
    lin = inv * d.view(1, 1, 2) / d.view(1, 2, 1)                           # D⁻¹ A⁻¹ D
    shift = -(inv @ translate.to(inv).unsqueeze(-1)).squeeze(-1) / d       # -D⁻¹ A⁻¹ t
    return torch.cat([lin, shift.unsqueeze(-1)], dim=-1)


def warp_affine(x: Tensor, theta: Tensor, padding_mode: str = "zeros") -> Tensor:
    """Resample x (N×C×H×W) through theta (N×2×3, output -> input, normalized coordinates)."""
    grid = F.affine_grid(theta.to(x), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)


class RandomAffine(Augmentation):
    """Random rotation (±degrees), translation (±fraction), scale and shear (±degrees) per example."""

    name = "affine"
    ranks = (4,)

    def __init__(
        self,
        degrees: float = 10.0,
        translate: float = 0.1,
        scale: tuple[float, float] = (0.9, 1.1),
        shear: float = 0.0,
        padding_mode: str = "zeros",
        p: float = 1.0,
    ) -> None:
        super().__init__(p)
        self.degrees = check_nonnegative("affine: degrees", degrees)
        self.translate = check_nonnegative("affine: translate", translate)
        self.scale = check_interval("affine: scale", scale, low=1e-6)
        self.shear = check_nonnegative("affine: shear", shear)
        self.padding_mode = check_choice("affine: padding_mode", padding_mode, PADDING_MODES)

    def is_active(self) -> bool:
        return self.degrees > 0 or self.translate > 0 or self.scale != (1.0, 1.0) or self.shear > 0

    def sample_theta(self, x: Tensor, generator: torch.Generator) -> Tensor:
        n, _, height, width = x.shape
        dt = torch.float64 if x.dtype == torch.float64 else torch.float32
        like = torch.empty(0, dtype=dt, device=x.device)
        angle = uniform(n, -self.degrees, self.degrees, generator, like)
        t = uniform(2 * n, -self.translate, self.translate, generator, like).view(n, 2)
        t = t * torch.tensor([width, height], dtype=dt, device=x.device)
        s = uniform(n, *self.scale, generator, like)
        shear = uniform(n, -self.shear, self.shear, generator, like)
        return affine_theta(angle, t, s, shear, height, width)

    def sample_and_apply(self, x: Tensor, generator: torch.Generator) -> Tensor:
        return warp_affine(x, self.sample_theta(x, generator), self.padding_mode)

    def extra_repr(self) -> str:
        return (
            f"degrees={self.degrees}, translate={self.translate}, scale={self.scale}, shear={self.shear}, "
            f"padding_mode={self.padding_mode!r}, p={self.p}"
        )
