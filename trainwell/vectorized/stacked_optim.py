"""SGD (momentum), Adam and AdamW on stacked parameters, with per-trial hyperparameters.

Every parameter is a K×... tensor (trial k in row k); `lr`, `weight_decay`, `momentum` are K-vectors
broadcast along dim 0. The update is the same math as ``torch.optim`` (defaults: no dampening, no
Nesterov; Adam betas (0.9, 0.999), eps 1e-8, no amsgrad), applied per trial:

SGD (weight decay as L2 on the gradient; Polyak heavy ball with buffer b₀ = 0, so b₁ = g₁ as torch):
    g ← ∇ + λ θ;   b ← μ b + g;   θ ← θ − η b
Adam (Kingma & Ba, 2015; L2 on the gradient):
    g ← ∇ + λ θ;   m ← β₁ m + (1−β₁) g;   v ← β₂ v + (1−β₂) g²
    θ ← θ − η/(1−β₁ᵗ) · m / (√v / √(1−β₂ᵗ) + ε)
AdamW (Loshchilov & Hutter, 2019; decoupled decay):  θ ← θ (1 − η λ), then Adam with λ = 0.

`lr` is the scheduled rate of this step (base lr × schedule factor), passed to each `step`.
`decay` (one bool per parameter) limits λ to the parameters trainwell decays — weights with ≥ 2
dimensions outside normalization layers (`trainwell.optim.param_groups`), as the Trainer does;
the others get λ = 0.

Example:
    >>> p = torch.zeros(2, 3, requires_grad=True)
    >>> opt = StackedOptimizer([p], "sgd", weight_decay=torch.zeros(2), momentum=torch.zeros(2))
    >>> p.grad = torch.ones(2, 3)
    >>> opt.step(torch.tensor([0.1, 0.2]))
    >>> p[:, 0].tolist()
    [-0.10000000149011612, -0.20000000298023224]
"""
from __future__ import annotations

from collections.abc import Sequence

import torch


def _per_trial(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """View a K-vector as K×1×...×1 to broadcast against `like` (K×...)."""
    return v.to(device=like.device, dtype=like.dtype).view((-1,) + (1,) * (like.ndim - 1))


class StackedOptimizer:
    """One optimizer for K stacked models; `step(lr)` updates the params from their `.grad`."""

    def __init__(
        self,
        params: Sequence[torch.Tensor],
        kind: str,
        weight_decay: torch.Tensor,
        momentum: torch.Tensor | None = None,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        decay: Sequence[bool] | None = None,
    ):
        self.params = list(params)
        if decay is not None and len(decay) != len(self.params):
            raise ValueError(f"decay: one flag per parameter ({len(self.params)}), got {len(decay)}")
        self.kind = kind
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.t = 0
        flags = [True] * len(self.params) if decay is None else [bool(d) for d in decay]
        self.wd = [_per_trial(weight_decay, p) if d else None for p, d in zip(self.params, flags)]
        self.use_wd = bool((weight_decay != 0).any()) and any(flags)
        if kind == "sgd":
            mom = momentum if momentum is not None else torch.zeros_like(weight_decay)
            self.mom = [_per_trial(mom, p) for p in self.params]
            self.use_mom = bool((mom != 0).any())
            self.buf = [torch.zeros_like(p) for p in self.params] if self.use_mom else []
        else:
            self.m = [torch.zeros_like(p) for p in self.params]
            self.v = [torch.zeros_like(p) for p in self.params]
            self.scratch = [torch.empty_like(p) for p in self.params]

    @torch.no_grad()
    def step(self, lr: torch.Tensor) -> None:
        """One update with per-trial learning rates `lr` (K-vector)."""
        self.t += 1
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            lr_i = _per_trial(lr, p)
            g = p.grad  # ours alone (zero_grad sets None), so it is updated in place
            if self.kind == "sgd":
                if self.use_wd and self.wd[i] is not None:
                    g.addcmul_(self.wd[i], p)
                if self.use_mom:
                    self.buf[i].mul_(self.mom[i]).add_(g)
                    g = self.buf[i]
                p.addcmul_(lr_i, g, value=-1.0)
                continue
            wd = self.wd[i] if self.use_wd else None
            if self.kind == "adamw":
                if wd is not None:
                    p.mul_(1.0 - lr_i * wd)
            elif wd is not None:
                g.addcmul_(wd, p)
            m, v = self.m[i], self.v[i]
            m.lerp_(g, 1.0 - self.beta1)
            v.mul_(self.beta2).addcmul_(g, g, value=1.0 - self.beta2)
            bias1 = 1.0 - self.beta1**self.t
            bias2_sqrt = (1.0 - self.beta2**self.t) ** 0.5
            # θ -= η/b₁ · m / (√v/√b₂ + ε)  ==  θ -= (η √b₂/b₁) · m / (√v + ε √b₂): one pass fewer
            buf = self.scratch[i]  # preallocated: no large allocation (and page faults) per step
            torch.sqrt(v, out=buf).add_(self.eps * bias2_sqrt)
            torch.div(m, buf, out=buf)
            p.addcmul_(lr_i * (-bias2_sqrt / bias1), buf)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None
