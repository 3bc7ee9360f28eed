"""Batch mixers: Mixup and CutMix. `mixer(x, y, num_classes, generator) -> (x_mixed, targets)`.

Each example i is paired with example perm[i] of a random permutation drawn from the generator
(odd batch sizes are fine; perm[i] == i leaves example i as it is). With weights λ_i:

Mixup (Zhang, Cisse, Dauphin & Lopez-Paz, "mixup: Beyond Empirical Risk Minimization", 2018):
    x'_i = λ_i x_i + (1 - λ_i) x_perm[i]
    t'_i = λ_i e_{y_i} + (1 - λ_i) e_{y_perm[i]}          λ ~ Beta(α, α)

CutMix (Yun, Han, Oh, Chun, Choe & Yoo, "CutMix: Regularization Strategy to Train Strong
Classifiers with Localizable Features", 2019): paste a box of the partner into the example.
The box has sides ⌊L_k · √(1 - λ)⌋ on images (a share 1 - λ of the area) and ⌊L · (1 - λ)⌋ on
signals, a uniform centre, and is clipped to the example; λ is then *corrected to the real
area*:  λ_i = 1 - |box_i| / (H·W)  — so the share of positions that come from the partner is
exactly 1 - λ_i, and the targets say exactly that.

λ: one draw per batch, as in both papers (per_example=False), or one per example; CutMix
boxes get their own centre per example either way (so clipping, and the corrected λ_i, differ
between examples). With p < 1
each example is mixed with probability p (λ_i = 1 otherwise). λ is drawn with
`trainwell.augment.beta.sample_beta` (Marsaglia–Tsang gammas from the generator; see there).
The target rows sum to 1. The loss is the soft cross-entropy -Σ_c t'_c log softmax(z)_c.

Shapes: x N×C×L or N×C×H×W; y LongTensor[N] (or soft FloatTensor[N, C]); targets float (N, C).

Example:
    >>> xm, t = Mixup(alpha=0.2)(x, y, num_classes=10, generator=g)
    >>> loss = -(t * logits.log_softmax(-1)).sum(-1).mean()
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from trainwell.augment._checks import check_batch, check_generator, check_nonnegative, check_probability, per_example
from trainwell.augment.beta import sample_beta
from trainwell.augment.boxes import box_area, box_mask, sample_boxes
from trainwell.augment.targets import soft_targets


def mixup(x: Tensor, targets: Tensor, lam: Tensor, perm: Tensor) -> tuple[Tensor, Tensor]:
    """Convex combination of each example with its partner perm[i], weights lam (N,)."""
    lx = per_example(lam.to(x), x)
    lt = lam.to(targets).unsqueeze(1)
    return lx * x + (1 - lx) * x[perm], lt * targets + (1 - lt) * targets[perm]


def cutmix(x: Tensor, targets: Tensor, lo: Tensor, hi: Tensor, perm: Tensor) -> tuple[Tensor, Tensor]:
    """Paste box [lo, hi) of partner perm[i] into example i; targets mixed by the real box area."""
    spatial = tuple(x.shape[2:])
    mask = box_mask(spatial, lo, hi).unsqueeze(1)                      # (N, 1, *spatial)
    total = 1
    for s in spatial:
        total *= s
    lam = 1.0 - box_area(lo, hi).to(targets) / total                  # realised λ
    mixed = torch.where(mask, x[perm], x)
    lt = lam.unsqueeze(1)
    return mixed, lt * targets + (1 - lt) * targets[perm]


class _Mixer(nn.Module):
    name = "mixer"

    def __init__(self, alpha: float, p: float, per_example: bool) -> None:
        super().__init__()
        self.alpha = check_nonnegative(f"{self.name}: alpha", alpha)
        self.p = check_probability(f"{self.name}: p", p)
        self.per_example = bool(per_example)

    def draw_lambda(self, n: int, generator: torch.Generator, device: torch.device) -> Tensor:
        """λ for each example, float64 (N,): Beta(α, α), shared unless per_example; 1 when not selected."""
        lam = sample_beta(self.alpha, self.alpha, n if self.per_example else 1, generator, device)
        lam = lam.expand(n)
        if self.p < 1.0:
            chosen = torch.rand(n, generator=generator, device=device) < self.p
            lam = torch.where(chosen, lam, torch.ones_like(lam))
        return lam

    def forward(self, x: Tensor, y: Tensor, num_classes: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        check_batch(self.name, x, (3, 4))
        targets = soft_targets(self.name, y, num_classes, x)
        check_generator(self.name, generator, x)
        if self.alpha == 0.0 or self.p == 0.0 or x.shape[0] == 0:
            return x, targets
        perm = torch.randperm(x.shape[0], generator=generator, device=x.device)
        return self.mix(x, targets, perm, generator)

    def mix(self, x: Tensor, targets: Tensor, perm: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, p={self.p}, per_example={self.per_example}"


class Mixup(_Mixer):
    """Mixup: x' = λx + (1-λ)x_perm, targets likewise; λ ~ Beta(alpha, alpha). alpha=0: off."""

    name = "mixup"

    def __init__(self, alpha: float = 0.2, p: float = 1.0, per_example: bool = False) -> None:
        super().__init__(alpha, p, per_example)

    def mix(self, x: Tensor, targets: Tensor, perm: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        lam = self.draw_lambda(x.shape[0], generator, x.device)
        return mixup(x, targets, lam, perm)


class CutMix(_Mixer):
    """CutMix: paste a partner's box covering ≈ 1-λ of the example; λ corrected to the real area."""

    name = "cutmix"

    def __init__(self, alpha: float = 1.0, p: float = 1.0, per_example: bool = False) -> None:
        super().__init__(alpha, p, per_example)

    def mix(self, x: Tensor, targets: Tensor, perm: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        n = x.shape[0]
        spatial = tuple(x.shape[2:])
        lam = self.draw_lambda(n, generator, x.device)
        ratio = (1.0 - lam) ** (1.0 / len(spatial))                     # side ratio per axis
        lengths = torch.tensor(spatial, device=x.device, dtype=torch.float64)
        sides = (ratio.unsqueeze(1) * lengths).floor().long()           # (N, d)
        lo, hi = sample_boxes(spatial, sides, generator)
        return cutmix(x, targets, lo, hi, perm)
