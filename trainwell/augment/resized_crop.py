"""Random resized crop (images N×C×H×W): cut a box of random area and aspect ratio and resize it
back to H×W — the "random crops and scales" of Inception (Szegedy et al. 2015).

Per example: area share a ~ U(scale), aspect ratio r with log r ~ U(log ratio), box
w = sqrt(a·H·W·r), h = sqrt(a·H·W / r) pixels (capped at W and H — torchvision instead retries
and falls back to a centre crop), top-left uniform over the positions where the box fits
(sub-pixel). The box is resampled with bilinear interpolation by one `F.affine_grid` +
`F.grid_sample` for the batch; with align_corners=False the box (top, left, h, w) maps to

    theta = [[w/W, 0, (2·left + w)/W - 1],
             [0, h/H, (2·top + h)/H - 1]]

so the output pixel centre j reads the input at left + (j + 0.5)·w/W - 0.5.

Defaults: scale (0.25, 1) — Inception's (0.08, 1) is too harsh for 32×32 images — and ratio
(3/4, 4/3).

Example:
    >>> RandomResizedCrop(scale=(0.5, 1.0))(images, g)
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from trainwell.augment._checks import check_choice, check_interval, uniform
from trainwell.augment.base import Augmentation

PADDING_MODES = ("zeros", "border", "reflection")


def box_theta(boxes: Tensor, height: int, width: int) -> Tensor:
    """(N, 4) boxes (top, left, h, w) in pixels -> (N, 2, 3) affine_grid matrices."""
    top, left, h, w = boxes.unbind(1)
    theta = boxes.new_zeros(boxes.shape[0], 2, 3)
    theta[:, 0, 0] = w / width
    theta[:, 0, 2] = (2 * left + w) / width - 1
    theta[:, 1, 1] = h / height
    theta[:, 1, 2] = (2 * top + h) / height - 1
    return theta


def resized_crop(x: Tensor, boxes: Tensor, padding_mode: str = "border") -> Tensor:
    """Resample the box (top, left, h, w) of each example of x (N×C×H×W) to H×W (bilinear)."""
    padding_mode = check_choice("resized_crop: padding_mode", padding_mode, PADDING_MODES)
    n, c, height, width = x.shape
    theta = box_theta(boxes.to(x), height, width)
    grid = F.affine_grid(theta, [n, c, height, width], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)


class RandomResizedCrop(Augmentation):
    """Crop a box of random area share (scale) and aspect ratio (ratio), resize to the input size."""

    name = "random_resized_crop"
    ranks = (4,)

    def __init__(
        self,
        scale: tuple[float, float] = (0.25, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        p: float = 1.0,
    ) -> None:
        super().__init__(p)
        self.scale = check_interval("random_resized_crop: scale", scale, low=1e-6, high=1.0)
        self.ratio = check_interval("random_resized_crop: ratio", ratio, low=1e-6)

    def is_active(self) -> bool:
        return self.scale != (1.0, 1.0) or self.ratio != (1.0, 1.0)

    def sample_boxes(self, x: Tensor, generator: torch.Generator) -> Tensor:
        n, _, height, width = x.shape
        dt = torch.float64 if x.dtype == torch.float64 else torch.float32
        like = torch.empty(0, dtype=dt, device=x.device)
        area = uniform(n, *self.scale, generator, like) * (height * width)
        r = uniform(n, math.log(self.ratio[0]), math.log(self.ratio[1]), generator, like).exp()
        w = (area * r).sqrt().clamp(max=width)
        h = (area / r).sqrt().clamp(max=height)
        top = torch.rand(n, generator=generator, device=x.device, dtype=dt) * (height - h)
        left = torch.rand(n, generator=generator, device=x.device, dtype=dt) * (width - w)
        return torch.stack([top, left, h, w], dim=1)

    def sample_and_apply(self, x: Tensor, generator: torch.Generator) -> Tensor:
        return resized_crop(x, self.sample_boxes(x, generator))

    def extra_repr(self) -> str:
        return f"scale={self.scale}, ratio={tuple(round(r, 4) for r in self.ratio)}, p={self.p}"
