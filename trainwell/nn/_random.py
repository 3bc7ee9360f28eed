"""Random draws for the stochastic layers, from an explicit generator.

Draws happen on the generator's device (CPU for `torch.Generator()`) and are moved to the data's
device; give a generator on the data's device (`torch.Generator(device="cuda")`) to avoid the
copy. With `generator=None` torch's default RNG of the data's device is used; inside
`Trainer.fit` that is the run's own stream (seeded `seed + 4` under `torch.random.fork_rng` and
saved in checkpoints), so training stays reproducible and the caller's global RNG is untouched.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch


def uniform(shape: Sequence[int], like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """U[0, 1) of `shape`, dtype of `like`, on `like`'s device."""
    dtype = like.dtype if like.is_floating_point() else torch.float32
    device = generator.device if generator is not None else like.device
    return torch.rand(tuple(shape), generator=generator, device=device, dtype=dtype).to(like.device)


def keep_mask(shape: Sequence[int], keep: float, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Bernoulli(keep) mask of 0.0/1.0 values (1 = kept), dtype and device of `like`."""
    return (uniform(shape, like, generator) < keep).to(like.dtype)


def check_rate(p: float, who: str, name: str = "p") -> float:
    from trainwell.errors import UserError

    if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0.0 <= float(p) < 1.0:
        raise UserError(f"{who}: {name} (drop probability) must be in [0, 1), got {p!r}")
    return float(p)
