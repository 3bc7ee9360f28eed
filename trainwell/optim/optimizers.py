"""Optimizers by name: SGD, momentum, Nesterov, RMSProp, Adam, AdamW (torch.optim underneath).

Update rules (g = gradient of the loss at step t = 1, 2, ..., α = learning rate, λ = weight decay,
L2-coupled optimizers add λw to g first):

    sgd        w -= α g
    momentum   v = ρ v + g;  w -= α v                        (Polyak 1964; ρ = 0.9)
    nesterov   v = ρ v + g;  w -= α (g + ρ v)                (Nesterov 1983, Sutskever et al. 2013)
    rmsprop    s = a s + (1 - a) g²;  w -= α g / (√s + ε)    (Tieleman & Hinton 2012; a = 0.99)
    adam       m = β₁ m + (1 - β₁) g;  s = β₂ s + (1 - β₂) g²
               m̂ = m / (1 - β₁ᵗ);  ŝ = s / (1 - β₂ᵗ)   (bias correction: m, s start at 0)
               w -= α m̂ / (√ŝ + ε)                          (Kingma & Ba 2014)
    adamw      w -= α λ w  (decoupled: not through m, s), then the Adam step on g without λw
                                                             (Loshchilov & Hutter 2017)

The weight decay of each parameter comes from `param_groups` (0 for biases and normalization
parameters). Learning rates: every group gets ``lr = initial_lr = lr * lr_scale``; afterwards only
`LRScheduler` changes them. torch's implementations are used as they are, with ``foreach=None``:
torch picks its multi-tensor (foreach) kernels wherever they are supported (CUDA).

Example:
    opt = build_optimizer(model, {"name": "adamw", "betas": [0.9, 0.95]}, lr=3e-4, weight_decay=0.05)
    opt = build_optimizer(model, "nesterov", lr=0.1, weight_decay=5e-4, lr_scales={"backbone": 0.1})
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from trainwell.errors import UserError
from trainwell.optim.checks import check_bool, check_float


def _check_betas(value: Any, field: str) -> tuple[float, float]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        raise UserError(f"{field} must be a pair [beta1, beta2], got {value!r}")
    b1 = check_float(value[0], f"{field}[0] (beta1)", low=0.0, high=1.0, high_open=True)
    b2 = check_float(value[1], f"{field}[1] (beta2)", low=0.0, high=1.0, high_open=True)
    return b1, b2


def _sgd_like(params: list[dict[str, Any]], lr: float, momentum: float, nesterov: bool, who: str):
    momentum = check_float(momentum, f"optimizer {who!r}: momentum", low=0.0, high=1.0, high_open=True)
    nesterov = check_bool(nesterov, f"optimizer {who!r}: nesterov")
    if nesterov and momentum == 0.0:
        raise UserError(
            f"optimizer {who!r}: nesterov=true needs momentum > 0 (e.g. 0.9), got momentum={momentum}"
        )
    return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=nesterov, foreach=None)


def sgd(params: list[dict[str, Any]], lr: float, momentum: float = 0.0, nesterov: bool = False):
    """Plain SGD: w -= lr * g (with momentum > 0: v = momentum * v + g; w -= lr * v)."""
    return _sgd_like(params, lr, momentum, nesterov, "sgd")


def sgd_momentum(params: list[dict[str, Any]], lr: float, momentum: float = 0.9, nesterov: bool = False):
    """SGD with (heavy-ball) momentum 0.9: v = 0.9 v + g; w -= lr * v."""
    return _sgd_like(params, lr, momentum, nesterov, "momentum")


def sgd_nesterov(params: list[dict[str, Any]], lr: float, momentum: float = 0.9):
    """SGD with Nesterov momentum 0.9: v = 0.9 v + g; w -= lr * (g + 0.9 v)."""
    return _sgd_like(params, lr, momentum, True, "nesterov")


def rmsprop(
    params: list[dict[str, Any]], lr: float, alpha: float = 0.99, eps: float = 1e-8,
    momentum: float = 0.0, centered: bool = False,
):
    """RMSProp: s = alpha s + (1 - alpha) g²; w -= lr g / (sqrt(s) + eps)."""
    who = "optimizer 'rmsprop'"
    return torch.optim.RMSprop(
        params,
        lr=lr,
        alpha=check_float(alpha, f"{who}: alpha", low=0.0, high=1.0, high_open=True),
        eps=check_float(eps, f"{who}: eps", low=0.0, low_open=True),
        momentum=check_float(momentum, f"{who}: momentum", low=0.0, high=1.0, high_open=True),
        centered=check_bool(centered, f"{who}: centered"),
        foreach=None,
    )


def _adam_like(cls, name: str, params, lr, betas, eps, amsgrad):
    who = f"optimizer {name!r}"
    return cls(
        params,
        lr=lr,
        betas=_check_betas(betas, f"{who}: betas"),
        eps=check_float(eps, f"{who}: eps", low=0.0, low_open=True),
        amsgrad=check_bool(amsgrad, f"{who}: amsgrad"),
        foreach=None,
    )


def adam(
    params: list[dict[str, Any]], lr: float, betas: Sequence[float] = (0.9, 0.999),
    eps: float = 1e-8, amsgrad: bool = False,
):
    """Adam with bias correction; weight decay is L2 added to the gradient (coupled)."""
    return _adam_like(torch.optim.Adam, "adam", params, lr, betas, eps, amsgrad)


def adamw(
    params: list[dict[str, Any]], lr: float, betas: Sequence[float] = (0.9, 0.999),
    eps: float = 1e-8, amsgrad: bool = False,
):
    """AdamW: Adam with decoupled weight decay w -= lr * weight_decay * w."""
    return _adam_like(torch.optim.AdamW, "adamw", params, lr, betas, eps, amsgrad)


__all__ = ["adam", "adamw", "rmsprop", "sgd", "sgd_momentum", "sgd_nesterov"]
