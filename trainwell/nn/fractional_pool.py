"""Fractional max pooling (Graham 2014): max pooling by a non-integer factor such as √2.

The pooling regions are drawn at random (pseudo-random overlapping sequences), so each forward
pass sees a slightly different downsampling — a regularizer. Wraps
`torch.nn.functional.fractional_max_pool2d`, drawing its random offsets from an explicit
`generator` (None: torch's default RNG). As in the paper the pooling is random at test time too;
average several test passes, or call `.eval()` with `fixed_at_eval=True` to use fixed offsets (0.5).

Shapes: N×C×H×W → N×C×⌊ratio·H⌋×⌊ratio·W⌋ (or `output_size`).

Example:
    >>> pool = FractionalMaxPool2d(2, output_ratio=0.7071, generator=torch.Generator().manual_seed(0))
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainwell.errors import UserError
from trainwell.nn._random import uniform


class FractionalMaxPool2d(nn.Module):
    """Fractional max pooling of N×C×H×W maps with kernel `kernel_size` and `output_ratio` (or size)."""

    def __init__(self, kernel_size: int = 2, output_ratio: float | None = 2**-0.5, output_size: int | None = None,
                 fixed_at_eval: bool = False, generator: torch.Generator | None = None):
        super().__init__()
        if output_size is None and (output_ratio is None or not 0.0 < output_ratio < 1.0):
            raise UserError(f"fractional_max: output_ratio must be in (0, 1), got {output_ratio!r}")
        self.kernel_size = kernel_size
        self.output_ratio = None if output_size is not None else float(output_ratio)
        self.output_size = output_size
        self.fixed_at_eval = bool(fixed_at_eval)
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise UserError(f"fractional_max: expected N×C×H×W input, found shape {tuple(x.shape)}")
        if self.fixed_at_eval and not self.training:
            samples = torch.full((x.shape[0], x.shape[1], 2), 0.5, dtype=x.dtype, device=x.device)
        else:
            samples = uniform((x.shape[0], x.shape[1], 2), x, self.generator)
        return F.fractional_max_pool2d(
            x, self.kernel_size, output_size=self.output_size, output_ratio=None if self.output_ratio is None else (self.output_ratio, self.output_ratio),
            _random_samples=samples
        )

    def extra_repr(self) -> str:
        target = f"output_size={self.output_size}" if self.output_size is not None else f"output_ratio={self.output_ratio:.4f}"
        return f"kernel_size={self.kernel_size}, {target}"
