"""Weight initialization schemes for nn.Linear and nn.Conv1d/2d/3d.

Each scheme is a small callable object: `scheme(module, generator=None)` redraws the module's
weight in place and sets its bias to the scheme's `bias` value (default 0). `initialize(model,
spec, generator)` applies a scheme to every Linear/Conv of a model in module order, so the same
seed gives the same weights.

Fan-in and fan-out (`fans`): for a Linear weight (out, in) fan_in = in, fan_out = out; for a
conv weight (out, in/groups, k1, k2, ...) fan_in = (in/groups)·k1·k2·…, fan_out = out·k1·k2·….

| scheme     | weight distribution                    | reference                        |
|------------|-----------------------------------------|---------------------------------|
| constant   | all = value (zeros: value 0)            | breaks no symmetry (see below)  |
| normal     | N(0, std²), lecture: std 0.01 or 0.05   |                                  |
| uniform    | U(−a, a)                                |                                  |
| xavier     | Var = gain²·2/(fan_in+fan_out) (fan_avg) | Glorot & Bengio 2010            |
| kaiming    | Var = gain²/fan (relu: gain² = 2; leaky/prelu slope a: 2/(1+a²)) | He et al. 2015 |
| lecun      | Var = 1/fan_in (for SELU)               | LeCun et al. 1998; Klambauer et al. 2017 |
| orthogonal | gain · (semi-)orthogonal matrix          | Saxe, McClelland & Ganguli 2014 |

A normal with variance v has std √v; a uniform U(−b, b) has variance b²/3, so b = √(3v).

Randomness: draws use the `generator` passed in; with None they fall back to torch's default
RNG (documented, for convenience only — pass a generator for reproducible runs).

Example:
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> g = torch.Generator().manual_seed(0)
    >>> from trainwell.nn.registry import initialize   # by name, through the INITS registry
    >>> _ = initialize(model, {"name": "kaiming", "nonlinearity": "relu"}, generator=g)
    >>> fans(model[0].weight), round(Kaiming().variance(model[0].weight), 6)   # Var = 2 / fan_in
    ((4, 8), 0.5)
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from trainwell.errors import UserError
from trainwell.nn.kinds import is_norm

#: Layers that the schemes initialize.
INIT_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)

_GAINS = {
    "linear": 1.0, "identity": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3.0, "relu": math.sqrt(2.0), "selu": 1.0,
    # ReLU-like activations without an exact published gain: treated like ReLU (a common convention)
    "gelu": math.sqrt(2.0), "elu": math.sqrt(2.0), "swish": math.sqrt(2.0), "silu": math.sqrt(2.0),
}
_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("normal", "uniform")


def gain(nonlinearity: str = "relu", slope: float = 0.01) -> float:
    """The factor that keeps Var(output) = Var(input) through `nonlinearity`.

    relu: √2 (half the inputs are zeroed); leaky_relu/prelu with negative slope a: √(2/(1+a²));
    tanh: 5/3 (as in torch.nn.init.calculate_gain); linear/sigmoid: 1; selu: 1 (LeCun init, as
    Klambauer et al. 2017 prescribe — torch uses 3/4 here); gelu, elu, swish, silu: √2 (treated
    like ReLU — an approximation, no exact gain is published). Every name in ACTIVATIONS works.
    """
    if nonlinearity in ("leaky_relu", "prelu"):
        return math.sqrt(2.0 / (1.0 + float(slope) ** 2))
    if nonlinearity not in _GAINS:
        from trainwell.errors import did_you_mean

        names = [*_GAINS, "leaky_relu", "prelu"]
        raise UserError(f"unknown nonlinearity {nonlinearity!r}{did_you_mean(nonlinearity, names)}; valid: {', '.join(names)}")
    return _GAINS[nonlinearity]


_gain_of = gain


def fans(weight: torch.Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a Linear (out, in) or conv (out, in/groups, *kernel) weight."""
    if weight.dim() < 2:
        raise UserError(f"fans: expected a weight with at least 2 dims (out, in, ...), found shape {tuple(weight.shape)}")
    receptive = math.prod(weight.shape[2:])
    return weight.shape[1] * receptive, weight.shape[0] * receptive


def _fan(weight: torch.Tensor, mode: str) -> float:
    if mode not in _MODES:
        raise UserError(f"init mode must be one of {', '.join(_MODES)}, got {mode!r}")
    fan_in, fan_out = fans(weight)
    return {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[mode]


def _device_of(generator: torch.Generator | None, like: torch.Tensor) -> torch.device:
    return generator.device if generator is not None else like.device


def randn_like_(like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Standard normal draws shaped like `like`, from `generator` (on its device), moved to `like`'s device."""
    z = torch.randn(like.shape, generator=generator, device=_device_of(generator, like), dtype=like.dtype)
    return z.to(like.device)


def rand_like_(like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """U[0, 1) draws shaped like `like` (see `randn_like_`)."""
    u = torch.rand(like.shape, generator=generator, device=_device_of(generator, like), dtype=like.dtype)
    return u.to(like.device)


def fill_from_variance_(weight: torch.Tensor, variance: float, distribution: str, generator: torch.Generator | None) -> None:
    """Draw `weight` in place, zero-mean with the given variance: normal N(0, v) or U(−√(3v), √(3v))."""
    if distribution not in _DISTRIBUTIONS:
        raise UserError(f"init distribution must be 'normal' or 'uniform', got {distribution!r}")
    with torch.no_grad():
        if distribution == "normal":
            weight.copy_(randn_like_(weight, generator) * math.sqrt(variance))
        else:
            bound = math.sqrt(3.0 * variance)
            weight.copy_((rand_like_(weight, generator) * 2.0 - 1.0) * bound)


class InitScheme:
    """Base: `scheme(module, generator=None)` initializes one Linear/Conv in place."""

    name = "scheme"

    def __init__(self, bias: float = 0.0):
        self.bias = float(bias)

    def init_weight_(self, weight: torch.Tensor, generator: torch.Generator | None) -> None:
        raise NotImplementedError

    def __call__(self, module: nn.Module, generator: torch.Generator | None = None) -> None:
        if not isinstance(module, INIT_LAYERS):
            raise UserError(
                f"init {self.name!r}: expected an nn.Linear or nn.Conv1d/2d/3d, found {type(module).__name__}"
            )
        self.init_weight_(module.weight, generator)
        if module.bias is not None:
            with torch.no_grad():
                module.bias.fill_(self.bias)

    def options(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options().items())
        return f"{type(self).__name__}({opts})"


class Constant(InitScheme):
    """Every weight = `value` (zeros: value 0).

    Breaks no symmetry: all hidden units of a layer compute the same output and receive the same
    gradient, so they stay identical forever — the network behaves as if each layer had one unit.
    (With value 0 and ReLU/tanh the gradient to earlier layers is even exactly zero.) Shown here
    only to demonstrate why initialization must be random.
    """

    name = "constant"

    def __init__(self, value: float = 0.0, bias: float = 0.0):
        super().__init__(bias)
        self.value = float(value)

    def init_weight_(self, weight: torch.Tensor, generator: torch.Generator | None) -> None:
        with torch.no_grad():
            weight.fill_(self.value)


class Normal(InitScheme):
    """W ~ N(mean, std²). The lecture's "small random numbers": std = 0.01 (activations vanish in a
    deep tanh net) or 0.05 (tanh units saturate)."""

    name = "normal"

    def __init__(self, std: float = 0.01, mean: float = 0.0, bias: float = 0.0):
        super().__init__(bias)
        if std < 0:
            raise UserError(f"init 'normal': std must be ≥ 0, got {std}")
        self.std, self.mean = float(std), float(mean)

    def init_weight_(self, weight: torch.Tensor, generator: torch.Generator | None) -> None:
        with torch.no_grad():
            weight.copy_(randn_like_(weight, generator) * self.std + self.mean)


class Uniform(InitScheme):
    """W ~ U(−a, a), variance a²/3."""

    name = "uniform"

    def __init__(self, a: float = 0.05, bias: float = 0.0):
        super().__init__(bias)
        if a < 0:
            raise UserError(f"init 'uniform': a must be ≥ 0, got {a}")
        self.a = float(a)

    def init_weight_(self, weight: torch.Tensor, generator: torch.Generator | None) -> None:
        with torch.no_grad():
            weight.copy_((rand_like_(weight, generator) * 2.0 - 1.0) * self.a)


class VarianceScaling(InitScheme):
    """Zero-mean weights with Var(W) = gain² / fan(mode), normal or uniform.

    The family behind Xavier, Kaiming and LeCun; `gain` is given directly or from `nonlinearity`
    (and `slope` for leaky_relu/prelu).
    """

    name = "variance_scaling"

    def __init__(
        self,
        distribution: str = "normal",
        mode: str = "fan_in",
        nonlinearity: str = "linear",
        slope: float = 0.01,
        gain: float | None = None,
        bias: float = 0.0,
    ):
        super().__init__(bias)
        if distribution not in _DISTRIBUTIONS:
            raise UserError(f"init {self.name!r}: distribution must be 'normal' or 'uniform', got {distribution!r}")
        if mode not in _MODES:
            raise UserError(f"init {self.name!r}: mode must be one of {', '.join(_MODES)}, got {mode!r}")
        self.distribution, self.mode, self.nonlinearity, self.slope = distribution, mode, nonlinearity, float(slope)
        self.gain = float(gain) if gain is not None else _gain_of(nonlinearity, slope)

    def variance(self, weight: torch.Tensor) -> float:
        """The target Var(W) for this weight's shape: gain² / fan."""
        return self.gain**2 / _fan(weight, self.mode)

    def init_weight_(self, weight: torch.Tensor, generator: torch.Generator | None) -> None:
        fill_from_variance_(weight, self.variance(weight), self.distribution, generator)


class Xavier(VarianceScaling):
    """Glorot & Bengio (2010): Var(W) = gain²·2/(fan_in + fan_out) (mode fan_avg, default).

    Keeps the variance of activations (forward) and gradients (backward) roughly constant for
    zero-centred, locally linear activations (tanh); halves the variance per layer under ReLU.
    """

    name = "xavier"

    def __init__(self, distribution: str = "normal", mode: str = "fan_avg", nonlinearity: str = "linear",
                 slope: float = 0.01, gain: float | None = None, bias: float = 0.0):
        super().__init__(distribution, mode, nonlinearity, slope, gain, bias)


class Kaiming(VarianceScaling):
    """He, Zhang, Ren & Sun (2015) "MSRA" init: Var(W) = 2 / ((1 + a²)·fan) for ReLU (a = 0) or
    Leaky ReLU/PReLU with negative slope a; fan = fan_in (default) or fan_out."""

    name = "kaiming"

    def __init__(self, distribution: str = "normal", mode: str = "fan_in", nonlinearity: str = "relu",
                 slope: float = 0.01, gain: float | None = None, bias: float = 0.0):
        super().__init__(distribution, mode, nonlinearity, slope, gain, bias)


class Lecun(VarianceScaling):
    """LeCun et al. (1998): Var(W) = 1/fan_in — the init SELU's self-normalization assumes
    (Klambauer et al. 2017)."""

    name = "lecun"

    def __init__(self, distribution: str = "normal", bias: float = 0.0):
        super().__init__(distribution, "fan_in", "linear", 0.0, 1.0, bias)


class TorchDefault(InitScheme):
    """PyTorch's own default for Linear/Conv, drawn from `generator`: W ~ U(−1/√fan_in, 1/√fan_in)
    (kaiming_uniform with a = √5) and b ~ U(−1/√fan_in, 1/√fan_in)."""

    name = "torch_default"

    def __init__(self):
        super().__init__(0.0)

    def __call__(self, module: nn.Module, generator: torch.Generator | None = None) -> None:
        if not isinstance(module, INIT_LAYERS):
            raise UserError(f"init 'torch_default': expected an nn.Linear or nn.Conv1d/2d/3d, found {type(module).__name__}")
        bound = 1.0 / math.sqrt(fans(module.weight)[0])
        with torch.no_grad():
            module.weight.copy_((rand_like_(module.weight, generator) * 2 - 1) * bound)
            if module.bias is not None:
                module.bias.copy_((rand_like_(module.bias, generator) * 2 - 1) * bound)


def orthogonal_(weight: torch.Tensor, gain: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """Fill `weight` (viewed as rows = out, cols = the rest) with a (semi-)orthogonal matrix × gain.

    Saxe, McClelland & Ganguli (2014): draw A ~ N(0, 1), QR-decompose, fix the signs of R's
    diagonal so Q is uniform (Haar) on the orthogonal group. Rows are orthonormal if rows ≤ cols,
    columns otherwise.
    """
    rows = weight.shape[0]
    cols = weight.numel() // rows
    with torch.no_grad():
        a = torch.randn((max(rows, cols), min(rows, cols)), generator=generator,
                        device=_device_of(generator, weight), dtype=torch.float64)
        q, r = torch.linalg.qr(a)
        signs = torch.sign(torch.diagonal(r))
        signs[signs == 0] = 1.0
        q = q * signs
        if rows < cols:
            q = q.T
        weight.copy_((q * gain).reshape(weight.shape).to(weight.device, weight.dtype))
    return weight


class Orthogonal(InitScheme):
    """W = gain · Q with Q (semi-)orthogonal (see `orthogonal_`). Preserves the norm of every input
    through a linear layer when square; the starting point of LSUV."""

    name = "orthogonal"

    def __init__(self, gain: float | None = None, nonlinearity: str = "linear", slope: float = 0.01, bias: float = 0.0):
        super().__init__(bias)
        self.nonlinearity = nonlinearity
        self.gain = float(gain) if gain is not None else _gain_of(nonlinearity, slope)

    def init_weight_(self, weight: torch.Tensor, generator: torch.Generator | None) -> None:
        orthogonal_(weight, self.gain, generator)


def init_layers(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """(qualified name, module) of every Linear/Conv1d/2d/3d of `model`, in module order."""
    for name, module in model.named_modules():
        if isinstance(module, INIT_LAYERS):
            yield name, module


def zero_init_residual_(model: nn.Module) -> list[str]:
    """Make every residual branch start as zero, so each residual block starts as the identity.

    Goyal et al. (2017) and the lecture: with MSRA init Var(x + F(x)) grows block by block; zeroing
    the last layer of F fixes that. Marker convention (set by `ResidualBlock`, or by any builder):

    - a module with attribute `is_residual_branch = True` is a residual branch F; its LAST
      normalization layer with an affine weight gets weight γ = 0 — or, if it has no such norm, its
      last Linear/Conv gets weight and bias 0;
    - a module with attribute `is_residual_branch_end = True` is zeroed itself (γ, or weight and bias).

    Returns the qualified names of the zeroed modules.
    """
    names = dict((id(m), n) for n, m in model.named_modules())
    zeroed: list[str] = []

    def zero(module: nn.Module) -> None:
        with torch.no_grad():
            module.weight.zero_()
            if not is_norm(module) and getattr(module, "bias", None) is not None:
                module.bias.zero_()
        zeroed.append(names[id(module)])

    for module in model.modules():
        if getattr(module, "is_residual_branch_end", False):
            zero(module)
        elif getattr(module, "is_residual_branch", False):
            inner = list(module.modules())
            norms = [m for m in inner if is_norm(m) and getattr(m, "weight", None) is not None]
            layers = [m for m in inner if isinstance(m, INIT_LAYERS)]
            if norms:
                zero(norms[-1])
            elif layers:
                zero(layers[-1])
    return zeroed
