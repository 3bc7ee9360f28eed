"""The augmentation protocol: `aug(x, generator) -> x'`, applied per example with probability p.

Every augmentation is a thin `nn.Module` around a pure function of explicit per-example
parameters. `forward(x, generator)`:

1. checks the batch's rank (N×C×L signals and/or N×C×H×W images) and the generator's device,
2. returns x itself when inactive (p == 0 or zero strength) — exactly x, not a copy,
3. draws a keep-mask `u_i < p` (u_i ~ U(0, 1), one per example) and the per-example parameters as
   tensors from `generator`, applies the pure function to the whole batch at once, and keeps the
   original for the examples whose mask is off: x'_i = m_i · f(x_i; θ_i) + (1 - m_i) · x_i
   (a `torch.where`; transforms whose parameters have an exact identity value — crop offset P,
   jitter factors 1 — fold the mask into the parameters instead and save that pass).

No per-example Python loop anywhere; all draws come from the generator, which must live on the
batch's device (`torch.Generator(device=x.device)`).

Example:
    >>> g = torch.Generator().manual_seed(0)
    >>> aug = Compose([HFlip(p=0.5), GaussianNoise(std=0.1)])
    >>> y = aug(torch.randn(8, 3, 32, 32), g)       # same shape
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import Tensor, nn

from trainwell.augment._checks import check_batch, check_generator, check_probability, per_example


class Augmentation(nn.Module):
    """Base class: subclasses set `name`, `ranks`, implement `sample_and_apply` and `is_active`."""

    name: str = "augmentation"
    ranks: tuple[int, ...] = (3, 4)

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = check_probability(f"{self.name}: p", p)

    def is_active(self) -> bool:
        """False when the transform is the identity whatever the draw (zero strength)."""
        return True

    def sample_and_apply(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """Draw per-example parameters from `generator` and transform every example of x."""
        raise NotImplementedError

    def sample_and_apply_masked(self, x: Tensor, generator: torch.Generator, keep: Tensor | None) -> Tensor:
        """Transform the examples where `keep` (bool (N,), None = all) is True; others exactly x."""
        out = self.sample_and_apply(x, generator)
        return out if keep is None else torch.where(per_example(keep, x), out, x)

    def forward(self, x: Tensor, generator: torch.Generator) -> Tensor:
        check_batch(self.name, x, self.ranks)
        check_generator(self.name, generator, x)
        if self.p == 0.0 or not self.is_active() or x.shape[0] == 0:
            return x
        keep = None
        if self.p < 1.0:
            keep = torch.rand(x.shape[0], generator=generator, device=x.device) < self.p
        return self.sample_and_apply_masked(x, generator, keep)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class _Callable(nn.Module):
    """Wraps a plain callable `f(x, generator)` so that Compose can hold it."""

    def __init__(self, fn: Callable[[Tensor, torch.Generator], Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: Tensor, generator: torch.Generator) -> Tensor:
        return self.fn(x, generator)

    def extra_repr(self) -> str:
        return repr(self.fn)


class Compose(nn.Module):
    """Apply augmentations in order, all drawing from the same generator.

    An empty Compose is the identity.
    """

    def __init__(self, transforms: Iterable[Callable[[Tensor, torch.Generator], Tensor]] = ()) -> None:
        super().__init__()
        mods = []
        for t in transforms:
            if not callable(t):
                raise TypeError(f"Compose needs callables aug(x, generator), got {t!r}")
            mods.append(t if isinstance(t, nn.Module) else _Callable(t))
        self.transforms = nn.ModuleList(mods)

    def __len__(self) -> int:
        return len(self.transforms)

    def __iter__(self):
        return iter(self.transforms)

    def forward(self, x: Tensor, generator: torch.Generator) -> Tensor:
        for t in self.transforms:
            x = t(x, generator)
        return x

    def __repr__(self) -> str:
        if not len(self.transforms):
            return "Compose([])"
        inner = ",\n".join(f"  {t!r}" for t in self.transforms)
        return f"Compose([\n{inner}\n])"
