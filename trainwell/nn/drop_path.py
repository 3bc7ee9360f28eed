"""Stochastic depth / DropPath (Huang, Sun, Liu, Sedra & Weinberger 2016).

In a residual block y = x + F(x), training drops the whole branch F for a random subset of the
examples: y = x + b·F(x)/(1 − p), b ~ Bernoulli(1 − p) per example (inverted scaling; the paper
scales by the survival probability at test time instead — equivalent in expectation). At test
time y = x + F(x). Deeper blocks are dropped more often: the linear decay rule
p_l = (l / L)·p_L for blocks l = 1 … L (`drop_path_rates`); the paper uses p_L = 0.5.

Example:
    >>> rates = drop_path_rates(4, 0.2)        # [0.05, 0.1, 0.15, 0.2]
    >>> block = ResidualBlock(nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8)), rates[0])
"""
from __future__ import annotations

import torch
from torch import nn

from trainwell.errors import UserError
from trainwell.nn._random import check_rate, keep_mask


def drop_path(x: torch.Tensor, p: float, training: bool, generator: torch.Generator | None = None) -> torch.Tensor:
    """x·b/(1 − p) with one b ~ Bernoulli(1 − p) per example (axis 0); identity at eval."""
    if not training or p == 0.0:
        return x
    shape = (x.shape[0], *([1] * (x.dim() - 1)))
    return x * keep_mask(shape, 1.0 - p, x, generator) / (1.0 - p)


def drop_path_rates(depth: int, max_rate: float) -> list[float]:
    """Huang et al.'s linear rule: p_l = (l / depth)·max_rate for l = 1 … depth (last = max_rate)."""
    if not isinstance(depth, int) or depth < 1:
        raise UserError(f"drop_path_rates: depth must be a positive integer, got {depth!r}")
    check_rate(max_rate, "drop_path_rates", "max_rate")
    return [max_rate * (l / depth) for l in range(1, depth + 1)]


class DropPath(nn.Module):
    """Module form of `drop_path`: drops the whole input of an example with probability p."""

    def __init__(self, p: float = 0.1, generator: torch.Generator | None = None):
        super().__init__()
        self.p = check_rate(p, "DropPath")
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return drop_path(x, self.p, self.training, self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class ResidualBlock(nn.Module):
    """y = shortcut(x) + b·branch(x)/(1 − p) in training, shortcut(x) + branch(x) at eval.

    The branch is marked `is_residual_branch = True` for `zero_init_residual_`. When every
    example of the batch drops the branch, it is not computed at all (the saving that makes
    stochastic depth train faster). That test reads the mask on the host, which is free on the
    CPU; on an accelerator it would cost a device sync per block and step — more than the rare
    skip saves for batches of any size (p^N) — so there the branch is always computed. `shortcut` defaults to the identity (pass e.g. a 1×1 conv
    when the branch changes the shape).
    """

    def __init__(self, branch: nn.Module, drop_rate: float = 0.0, shortcut: nn.Module | None = None,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.branch = branch
        self.branch.is_residual_branch = True
        self.shortcut = shortcut if shortcut is not None else nn.Identity()
        self.drop_rate = check_rate(drop_rate, "ResidualBlock", "drop_rate")
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = self.shortcut(x)
        if not self.training or self.drop_rate == 0.0:
            return identity + self.branch(x)
        keep = 1.0 - self.drop_rate
        mask = keep_mask((x.shape[0], *([1] * (x.dim() - 1))), keep, x, self.generator)
        if mask.device.type == "cpu" and not bool(mask.any()):  # free on the CPU only (see above)
            return identity
        return identity + self.branch(x) * (mask / keep)

    def extra_repr(self) -> str:
        return f"drop_rate={self.drop_rate}"
