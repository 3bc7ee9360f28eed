"""Random crop with padding (images N×C×H×W): pad by P on every side, cut an H×W window at a
random integer offset per example — so the output keeps the input size.

    padded = pad(x, P)                    (zeros, or reflect: mirror without repeating the edge)
    x'[n, c, i, j] = padded[n, c, top_n + i, left_n + j],   top_n, left_n ~ U{0, ..., 2P}

top = left = P gives back x; top = 0 moves the content P pixels down (zeros/reflection enter
from the top). This is the CIFAR-10 recipe of the ResNet paper (He, Zhang, Ren & Sun 2016:
pad 4, random 32×32 crop, horizontal flip). Done with two `gather`s over the whole batch.

Example:
    >>> RandomCrop(padding=4, pad_mode="reflect")(images, g)
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from trainwell.augment._checks import check_choice
from trainwell.augment.base import Augmentation
from trainwell.errors import UserError

PAD_MODES = ("zeros", "reflect")


def crop_padded(x: Tensor, top: Tensor, left: Tensor, padding: int, pad_mode: str = "zeros") -> Tensor:
    """Crop each example of x (N×C×H×W), padded by `padding`, at offsets (top[n], left[n]) in 0..2P."""
    pad_mode = check_choice("crop_padded: pad_mode", pad_mode, PAD_MODES)
    n, c, h, w = x.shape
    if pad_mode == "reflect" and padding >= min(h, w):
        raise UserError(f"random_crop: reflect padding {padding} needs images larger than it, got {h}×{w}")
    padded = F.pad(x, (padding,) * 4, mode="constant" if pad_mode == "zeros" else "reflect")
    wp = w + 2 * padding
    rows = top.to(x.device).long().view(n, 1, 1) + torch.arange(h, device=x.device).view(1, h, 1)
    cols = left.to(x.device).long().view(n, 1, 1) + torch.arange(w, device=x.device).view(1, 1, w)
    index = (rows * wp + cols).view(n, 1, h * w).expand(n, c, h * w)
    return padded.flatten(2).gather(2, index).view(n, c, h, w)


class RandomCrop(Augmentation):
    """Pad by `padding` (zeros/reflect) and crop back to H×W at a random offset per example."""

    name = "random_crop"
    ranks = (4,)

    def __init__(self, padding: int = 4, pad_mode: str = "zeros", p: float = 1.0) -> None:
        super().__init__(p)
        if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
            raise UserError(f"random_crop: padding must be an integer >= 0, got {padding!r}")
        self.padding = padding
        self.pad_mode = check_choice("random_crop: pad_mode", pad_mode, PAD_MODES)

    def is_active(self) -> bool:
        return self.padding > 0

    def sample_and_apply(self, x: Tensor, generator: torch.Generator) -> Tensor:
        return self.sample_and_apply_masked(x, generator, None)

    def sample_and_apply_masked(self, x: Tensor, generator: torch.Generator, keep: Tensor | None) -> Tensor:
        n = x.shape[0]
        offsets = torch.randint(0, 2 * self.padding + 1, (2, n), generator=generator, device=x.device)
        if keep is not None:                                  # offset (P, P) is the identity
            offsets = torch.where(keep, offsets, self.padding)
        return crop_padded(x, offsets[0], offsets[1], self.padding, self.pad_mode)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, pad_mode={self.pad_mode!r}, p={self.p}"
