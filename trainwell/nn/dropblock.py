"""DropBlock (Ghiasi, Lin & Le 2018): drop contiguous blocks of conv feature maps.

Dropout of single activations barely regularizes conv features (neighbours carry the same
information). DropBlock zeroes block_size×block_size squares (block_size segments in 1-D):

1. sample block "seeds" z ~ Bernoulli(γ) on the positions where a whole block fits
   (size s − b + 1 per axis), independently per example and channel;
2. expand every seed into a block (seed at the block's first corner; odd and even b alike);
3. y = x·M · count(M) / count_ones(M) (renormalize by the realised keep fraction).

The paper sets γ = rate/b² · s²/(s − b + 1)² (2-D; `paper_gamma`), which ignores that blocks
overlap, so fewer units than `rate` are dropped. Here γ solves the exact expectation instead:
a unit u covered by n(u) possible seeds is kept with probability (1 − γ)^n(u), so

    E[dropped fraction] = 1 − mean_u (1 − γ)^n(u) = rate,

solved by bisection (`block_gamma`); the realised fraction then matches `rate` on average.
A block larger than the feature map is clipped to it.

Schedule: the paper increases the rate linearly from 0 to its target during training; with
`scheduled=True` the rate in use is rate × progress, progress ∈ [0, 1] set by
`set_progress(fraction_of_training_done)` (0 until first set).

Shapes: dims=1: N×C×L; dims=2: N×C×H×W. Identity at eval.

Example:
    >>> db = DropBlock(dims=2, block_size=5, rate=0.1, generator=torch.Generator().manual_seed(0))
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from trainwell.errors import UserError
from trainwell.nn._random import check_rate, uniform


def _coverage_counts(size: int, block: int) -> list[int]:
    """For each position u of an axis, the number of valid seed positions whose block covers u."""
    valid = size - block + 1
    return [min(valid - 1, u) - max(0, u - block + 1) + 1 for u in range(size)]


@functools.lru_cache(maxsize=256)
def block_gamma(rate: float, block: tuple[int, ...], sizes: tuple[int, ...]) -> float:
    """Seed probability γ with E[dropped fraction] = rate exactly (blocks clipped to sizes)."""
    if rate == 0.0:
        return 0.0
    counts: dict[int, int] = {1: 1}
    for size, b in zip(sizes, block):
        per_axis = _coverage_counts(size, min(b, size))
        new: dict[int, int] = {}
        for n, c in counts.items():
            for m in per_axis:
                new[n * m] = new.get(n * m, 0) + c
        counts = new
    total = sum(counts.values())

    def dropped(g: float) -> float:
        return 1.0 - sum(c * (1.0 - g) ** n for n, c in counts.items()) / total

    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if dropped(mid) < rate:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def paper_gamma(rate: float, block: int, sizes: Sequence[int]) -> float:
    """Ghiasi et al.'s γ = rate/b^d · Π s/(s − b + 1) (overlaps ignored; under-drops)."""
    g = rate / block ** len(sizes)
    for s in sizes:
        g *= s / (s - min(block, s) + 1)
    return g


def expand_seeds(seeds: torch.Tensor, block: tuple[int, ...]) -> torch.Tensor:
    """Turn seeds (N×C×(s − b + 1)…, 1 = seed) into dropped blocks (N×C×s…, 1 = dropped).

    Unit u is dropped if some seed v has v ≤ u < v + b on every axis: a max-pool of width b over
    the seeds zero-padded by b − 1 on both sides (works for odd and even b).
    """
    pad: list[int] = []
    for b in reversed(block):
        pad += [b - 1, b - 1]
    pool = F.max_pool1d if len(block) == 1 else F.max_pool2d
    return pool(F.pad(seeds, pad), kernel_size=block, stride=1)


def drop_block(
    x: torch.Tensor, rate: float, block_size: int, training: bool, generator: torch.Generator | None = None
) -> torch.Tensor:
    """DropBlock of N×C×L (1-D) or N×C×H×W (2-D) maps; identity at eval or rate 0."""
    if not training or rate == 0.0:
        return x
    if x.dim() not in (3, 4):
        raise UserError(f"drop_block: expected N×C×L or N×C×H×W input, found shape {tuple(x.shape)}")
    sizes = tuple(x.shape[2:])
    block = tuple(min(block_size, s) for s in sizes)
    gamma = block_gamma(float(rate), block, sizes)
    valid = [s - b + 1 for s, b in zip(sizes, block)]
    seeds = (uniform((*x.shape[:2], *valid), x, generator) < gamma).to(x.dtype)
    mask = 1.0 - expand_seeds(seeds, block)
    return x * mask * (mask.numel() / mask.sum().clamp(min=1.0))


class DropBlock(nn.Module):
    """Module form of `drop_block` with an optional linear schedule of the rate.

    Args:
        dims: 1 (N×C×L) or 2 (N×C×H×W).
        block_size: side b of the square (or segment) dropped; the paper uses 7 on ResNet-50.
        rate: target fraction of units dropped (the paper's 1 − keep_prob).
        scheduled: if True the rate in use is rate × progress (see `set_progress`).
        generator: randomness (None: torch's default RNG).
    """

    def __init__(self, dims: int = 2, block_size: int = 7, rate: float = 0.1, scheduled: bool = False,
                 generator: torch.Generator | None = None):
        super().__init__()
        if dims not in (1, 2):
            raise UserError(f"DropBlock: dims must be 1 or 2, got {dims!r}")
        if not isinstance(block_size, int) or block_size < 1:
            raise UserError(f"DropBlock: block_size must be a positive integer, got {block_size!r}")
        self.dims, self.block_size = dims, block_size
        self.rate = check_rate(rate, "DropBlock", "rate")
        self.scheduled = bool(scheduled)
        self.progress = 0.0 if self.scheduled else 1.0
        self.generator = generator

    def set_progress(self, fraction: float) -> None:
        """Fraction of training done, in [0, 1]; the rate in use grows linearly with it."""
        if not 0.0 <= fraction <= 1.0 or math.isnan(fraction):
            raise UserError(f"DropBlock.set_progress: fraction must be in [0, 1], got {fraction!r}")
        self.progress = float(fraction)

    @property
    def current_rate(self) -> float:
        return self.rate * self.progress if self.scheduled else self.rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.current_rate == 0.0:
            return x
        if x.dim() != self.dims + 2:
            raise UserError(f"DropBlock(dims={self.dims}): expected a {self.dims + 2}-D input, found shape {tuple(x.shape)}")
        return drop_block(x, self.current_rate, self.block_size, True, self.generator)

    def extra_repr(self) -> str:
        return f"dims={self.dims}, block_size={self.block_size}, rate={self.rate}, scheduled={self.scheduled}"
