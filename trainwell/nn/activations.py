"""Activation functions, each a formula in its docstring and a small module.

All modules work elementwise on any shape; the learnable ones (PReLU, Swish with learnable β)
keep one parameter per channel, with the channel on axis 1 (N×F, N×C×L, N×C×H×W), or one
shared parameter when `num_features` is None.

Every constructor accepts `num_features: int | None = None` so that model builders can pass the
layer width to any activation; the fixed activations ignore it.

Example:
    >>> import torch
    >>> Swish(beta=1.0)(torch.tensor([0.0, 1.0]))  # β = 1 is SiLU: x·σ(x)
    tensor([0.0000, 0.7311])
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from trainwell.errors import UserError

#: SELU constants from Klambauer, Unterthiner, Mayr & Hochreiter (2017), "Self-Normalizing
#: Neural Networks": the fixed point of mean 0 / variance 1 under LeCun-normal weights.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _channel_view(param: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Reshape a per-channel parameter (C,) to broadcast over x with channels on axis 1."""
    if param.numel() == 1:
        return param
    if x.dim() < 2 or x.shape[1] != param.numel():
        raise UserError(
            f"activation input: expected channels on axis 1 of size {param.numel()}, "
            f"found input of shape {tuple(x.shape)}"
        )
    return param.view(1, -1, *([1] * (x.dim() - 2)))


def _check_features(num_features: int | None, who: str) -> None:
    if num_features is not None and (not isinstance(num_features, int) or num_features < 1):
        raise UserError(f"{who}: num_features must be a positive integer or None, got {num_features!r}")


class Sigmoid(nn.Module):
    """σ(x) = 1 / (1 + e^(−x)); σ'(x) = σ(x)(1 − σ(x)) ≤ 1/4.

    Saturates for large |x| (gradient → 0) and is not zero-centred; mostly of historical interest
    in hidden layers.
    """

    def __init__(self, num_features: int | None = None):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x)


class Tanh(nn.Module):
    """tanh(x) = (e^x − e^(−x)) / (e^x + e^(−x)) = 2σ(2x) − 1; tanh'(x) = 1 − tanh²(x).

    Zero-centred, but saturates like the sigmoid (LeCun et al. 1991).
    """

    def __init__(self, num_features: int | None = None):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x)


class ReLU(nn.Module):
    """ReLU(x) = max(0, x) (Nair & Hinton 2010; Krizhevsky et al. 2012).

    Does not saturate for x > 0 and is cheap; a unit whose input is always negative never
    updates again ("dead ReLU"). The derivative at 0 is taken as 0.
    """

    def __init__(self, num_features: int | None = None):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x)


class LeakyReLU(nn.Module):
    """LeakyReLU(x) = x if x > 0 else slope·x (Maas, Hannun & Ng 2013). Never dies.

    Args:
        slope: the negative slope a (default 0.01).
    """

    def __init__(self, slope: float = 0.01, num_features: int | None = None):
        super().__init__()
        self.slope = float(slope)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x, self.slope)

    def extra_repr(self) -> str:
        return f"slope={self.slope}"


class PReLU(nn.Module):
    """PReLU(x) = x if x > 0 else a·x with a learnable (He, Zhang, Ren & Sun 2015).

    One slope per channel (axis 1) when `num_features` is given and `shared` is False, one shared
    slope otherwise. Initial slope `init` = 0.25 as in the paper.

    Shapes: x of N×C, N×C×L or N×C×H×W (per channel), or any shape (shared).
    """

    def __init__(self, num_features: int | None = None, init: float = 0.25, shared: bool = False):
        super().__init__()
        _check_features(num_features, "prelu")
        n = 1 if (shared or num_features is None) else num_features
        self.weight = nn.Parameter(torch.full((n,), float(init)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = _channel_view(self.weight, x)
        return torch.where(x > 0, x, a * x)

    def extra_repr(self) -> str:
        return f"num_parameters={self.weight.numel()}"


class ELU(nn.Module):
    """ELU(x) = x if x > 0 else α(e^x − 1) (Clevert, Unterthiner & Hochreiter 2015).

    Outputs closer to zero mean; negative saturation at −α adds some robustness to noise.
    """

    def __init__(self, alpha: float = 1.0, num_features: int | None = None):
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class SELU(nn.Module):
    """SELU(x) = λx if x > 0 else λα(e^x − 1), α ≈ 1.6733, λ ≈ 1.0507.

    Klambauer et al. (2017): with LeCun-normal weights (Var = 1/fan_in) activations converge to
    mean 0 and variance 1, so deep MLPs train without BatchNorm.
    """

    alpha = SELU_ALPHA
    scale = SELU_SCALE

    def __init__(self, num_features: int | None = None):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.selu(x)


class GELU(nn.Module):
    """GELU(x) = x·Φ(x), Φ the standard normal CDF (Hendrycks & Gimpel 2016).

    Exact: x·½(1 + erf(x/√2)). With approximate="tanh":
    ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
    """

    def __init__(self, approximate: str = "none", num_features: int | None = None):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise UserError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


def swish(x: torch.Tensor, beta: torch.Tensor | float = 1.0) -> torch.Tensor:
    """swish(x) = x·σ(βx) (Ramachandran, Zoph & Le 2017); β = 1 gives SiLU (Elfwing et al. 2018).

    d/dx = σ(βx) + βx·σ(βx)(1 − σ(βx)); d/dβ = x²·σ(βx)(1 − σ(βx)).
    """
    return x * torch.sigmoid(beta * x)


class Swish(nn.Module):
    """x·σ(βx) with β fixed or learnable (per channel if `num_features` is given).

    Args:
        beta: initial (or fixed) β; 1.0 is SiLU.
        learnable: make β a parameter.
        num_features: channels on axis 1 for a per-channel learnable β; None → one shared β.
    """

    def __init__(self, beta: float = 1.0, learnable: bool = False, num_features: int | None = None):
        super().__init__()
        _check_features(num_features, "swish")
        self.learnable = bool(learnable)
        if self.learnable:
            n = num_features or 1
            self.beta = nn.Parameter(torch.full((n,), float(beta)))
        else:
            self.beta = float(beta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if isinstance(self.beta, nn.Parameter):
            return swish(x, _channel_view(self.beta, x))
        if self.beta == 1.0:
            return F.silu(x)
        return swish(x, self.beta)

    def extra_repr(self) -> str:
        if isinstance(self.beta, nn.Parameter):
            return f"learnable=True, num_parameters={self.beta.numel()}"
        return f"beta={self.beta}"


def gelu_tanh_formula(x: torch.Tensor) -> torch.Tensor:
    """The tanh approximation of GELU written out (used in tests and docs)."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))
