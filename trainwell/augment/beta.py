"""Gamma and Beta draws from an explicit `torch.Generator`, on any device.

`torch.distributions.Beta` and `torch._standard_gamma` take no generator (they use the hidden
global RNG), so mixup/cutmix draw λ ~ Beta(α, β) with the Marsaglia–Tsang method built from
`torch.randn` / `torch.rand(generator=...)`:

Gamma(a), a >= 1 (Marsaglia & Tsang, "A simple method for generating gamma variables", 2000):
    d = a - 1/3,  c = 1 / sqrt(9 d);  draw z ~ N(0, 1), u ~ U(0, 1);  v = (1 + c z)^3
    accept when v > 0 and log u < z²/2 + d - d v + d log v;  return d v
    (acceptance rate > 0.95 for every a >= 1).
Gamma(a), a < 1 (the "boost" of the same paper): G(a) = G(a + 1) · U^(1/a).
Beta(α, β) = Gα / (Gα + Gβ), computed in log space as sigmoid(log Gα - log Gβ) so that small
α (where U^(1/α) underflows) stays finite. All arithmetic is in float64.

The draws are vectorized: K candidates per sample per round, the first accepted kept; a sample
whose K candidates all fail (probability < 0.05^K) is redrawn in the next round. Same generator
state -> same values.

Example:
    >>> g = torch.Generator().manual_seed(0)
    >>> lam = sample_beta(0.4, 0.4, 1000, g)     # float64, in (0, 1)
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from trainwell.augment._checks import check_positive

_CANDIDATES = 4


def _log_gamma_at_least_one(a: float, n: int, generator: torch.Generator, device: torch.device) -> Tensor:
    """log of n draws of Gamma(a, 1) for a >= 1 (Marsaglia–Tsang rejection)."""
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    out = torch.empty(n, dtype=torch.float64, device=device)
    todo = torch.ones(n, dtype=torch.bool, device=device)
    while True:
        z = torch.randn(n, _CANDIDATES, generator=generator, device=device, dtype=torch.float64)
        u = torch.rand(n, _CANDIDATES, generator=generator, device=device, dtype=torch.float64)
        v = (1.0 + c * z) ** 3
        logv = torch.log(v.clamp_min(1e-300))
        ok = (v > 0) & (torch.log(u) < 0.5 * z * z + d - d * v + d * logv)
        first = ok.to(torch.uint8).argmax(dim=1, keepdim=True)      # first accepted candidate
        got = ok.any(dim=1)
        value = math.log(d) + logv.gather(1, first).squeeze(1)
        fill = todo & got
        out = torch.where(fill, value, out)
        todo = todo & ~got
        if not bool(todo.any()):        # one host sync per call; a second round is very rare
            return out


def sample_log_gamma(a: float, n: int, generator: torch.Generator, device: torch.device | str | None = None) -> Tensor:
    """log of n draws of Gamma(a, 1) (shape a > 0, scale 1), float64, shape (n,)."""
    a = check_positive("gamma shape a", a)
    device = torch.device(device) if device is not None else generator.device
    if a >= 1.0:
        return _log_gamma_at_least_one(a, n, generator, device)
    log_g = _log_gamma_at_least_one(a + 1.0, n, generator, device)
    u = torch.rand(n, generator=generator, device=device, dtype=torch.float64)
    return log_g + torch.log(u) / a


def sample_gamma(a: float, n: int, generator: torch.Generator, device: torch.device | str | None = None) -> Tensor:
    """n draws of Gamma(a, 1), float64 (may underflow to 0 for tiny a; use sample_log_gamma)."""
    return sample_log_gamma(a, n, generator, device).exp()


def sample_beta(
    alpha: float, beta: float, n: int, generator: torch.Generator, device: torch.device | str | None = None
) -> Tensor:
    """n draws of Beta(alpha, beta) = Ga / (Ga + Gb), float64, shape (n,), values in [0, 1]."""
    la = sample_log_gamma(alpha, n, generator, device)
    lb = sample_log_gamma(beta, n, generator, device)
    return torch.sigmoid(la - lb)
