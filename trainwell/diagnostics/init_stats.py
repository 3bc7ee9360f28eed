"""The lectures' weight-initialization experiment, as a pure function.

Forward a batch of Gaussian data x ~ N(0, 1) (batch × in_dim) through `depth` layers of

    Linear(width) → [norm] → activation

initialized by name, and record, per layer l = 1 … depth (the output of layer l's activation),
the mean, std, a histogram and — with `backward=True` — the mean/std of the gradient that
reaches it when a random upstream gradient g ~ N(0, 1) is back-propagated from the top.

What the lectures show (10 layers of 500, batch 1000), and what this reproduces:

    tanh, N(0, 0.01²)   each layer multiplies the std by ≈ √500·0.01 ≈ 0.22 → deep layers collapsed
    tanh, N(0, 1)       pre-activations have std ≈ √500 ≈ 22 → nearly every unit at ±1: saturated
    tanh, N(0, 0.05²)   saturated only when wide: 6 layers of 4096 (gain 10), not 10 of 500 (gain 1.25)
    tanh, xavier        Var(w) = 2/(fan_in + fan_out) keeps the std order 1: healthy
    relu, xavier        ReLU halves the second moment each layer: std ≈ 0.58·0.707^(l−1) → collapses
    relu, kaiming       Var(w) = 2/fan_in restores it (He et al. 2015): healthy — for 10 layers; at
                        depth 50 the layers past ~30 have 30–40 % of units that never fire: dead
    any, norm="batch"   BatchNorm re-standardizes each layer (Ioffe & Szegedy 2015): healthy

Verdict of a layer, from its own histogram and fractions (checked in this order; s₀ is the std
of the input data, ≈ 1):

    saturated  tanh or sigmoid with more than 20 % of its outputs in the flat tails, where the
               local gradient is almost 0: |tanh| > 0.99 (tanh' = 1 − y² < 0.02), sigmoid < 0.01
               or > 0.99 (σ' < 0.0099) — the histogram piles up at the ends.
    dead       ReLU with at least 30 % of its units ≤ 0 for every example of the batch: they pass
               no gradient (the doctor's dead_warn). LeakyReLU, GELU, ... always pass some.
    collapsed  std < 0.1·s₀ — the signal has shrunk tenfold; gradients on W (∝ activations)
               vanish with it: the histogram is a spike at 0 (at 0.5 for sigmoid).
    exploded   std > 10·s₀ — the signal grows layer by layer (e.g. ReLU with N(0, 1)).
    healthy    otherwise.

Where the 20 % sits (10 layers of 500 unless stated, fraction in the tails per layer):
the lecture's saturating cases have 90 % (tanh, N(0, 1)), 75–84 % (sigmoid, N(0, 1)) and
33–41 % (tanh, N(0, 0.05²), 6 layers of 4096, batch 16); the healthy ones at most 2 % (tanh with xavier, lecun, orthogonal) and 6 % (tanh with
kaiming, layer 1). N(0, 0.05²) at width 500 is *not* saturated: its gain 500·0.05² = 1.25 is
close to 1, the std settles at 0.35 and ≤ 2 % of the outputs reach the tails; the lecture's
saturation needs width 4096 (gain 10).

Weights come from `trainwell.nn.init.initialize` (biases 0), activations and norms from the
`trainwell.nn.registry` registries; inits: normal (std), xavier (gain 1, fan_avg), kaiming (fan_in,
relu gain √2; leaky_relu slope 0.01), lecun, orthogonal (gain 1).

Example:
    >>> result = init_stats(depth=10, act="tanh", init="normal", std=0.01)
    >>> [layer.verdict for layer in result.layers][-1]
    'collapsed'
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from trainwell.diagnostics import stats as S
from trainwell.errors import UserError, did_you_mean

ACTS = ("relu", "tanh", "sigmoid", "leaky_relu", "gelu", "selu")
INITS = ("normal", "xavier", "kaiming", "lecun", "orthogonal")
NORMS = (None, "batch", "layer")

MAX_WEIGHTS = 10**9  # 4 GB of float32: a larger net is a typo here, not a study
COLLAPSED = 0.1  # std < 0.1·s₀
EXPLODED = 10.0  # std > 10·s₀
SATURATED = 0.2  # > 20 % of a saturating activation's outputs in the tails
DEAD = 0.3  # ≥ 30 % of a ReLU layer's units never fire on the batch


@dataclass
class LayerInitStats:
    """One layer: statistics of its activation output (index 1 = first hidden layer)."""

    index: int
    mean: float
    std: float
    lo: float
    hi: float
    hist: list[int]
    verdict: str
    saturated_frac: float | None = None
    dead_frac: float | None = None
    grad_mean: float | None = None
    grad_std: float | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"index": self.index, "mean": self.mean, "std": self.std, "lo": self.lo, "hi": self.hi,
               "hist": self.hist, "verdict": self.verdict}
        for key in ("saturated_frac", "dead_frac", "grad_mean", "grad_std"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


@dataclass
class InitStatsResult:
    """The experiment's settings, the input's std s₀ and one `LayerInitStats` per layer."""

    config: dict[str, Any]
    input_std: float
    layers: list[LayerInitStats] = field(default_factory=list)

    @property
    def verdicts(self) -> list[str]:
        return [layer.verdict for layer in self.layers]

    def to_json(self) -> dict[str, Any]:
        return {"config": self.config, "input_std": self.input_std, "layers": [l.to_json() for l in self.layers]}


def layer_verdict(std: float, kind: str | None, saturated_frac: float | None, input_std: float,
                  dead_frac: float | None = None) -> str:
    """saturated / dead / collapsed / exploded / healthy by the thresholds in the module docstring.

    `dead_frac` counts only for a plain ReLU (pass None for the rest of the ReLU family)."""
    if kind in ("tanh", "sigmoid") and saturated_frac is not None and saturated_frac > SATURATED:
        return "saturated"
    if dead_frac is not None and dead_frac >= DEAD:
        return "dead"
    if not std == std or std < COLLAPSED * input_std:
        return "collapsed"
    if std > EXPLODED * input_std:
        return "exploded"
    return "healthy"


def _init_spec(init: str, act: str, std: float) -> dict[str, Any]:
    if init == "normal":
        return {"name": "normal", "std": std}
    if init == "xavier":
        return {"name": "xavier", "nonlinearity": "linear"}
    if init == "kaiming":
        return {"name": "kaiming", "nonlinearity": "leaky_relu" if act == "leaky_relu" else "relu"}
    return {"name": init}


def build_net(depth: int, width: int, in_dim: int, act: str, norm: str | None) -> nn.Sequential:
    """[Linear → norm? → activation] × depth (uninitialized)."""
    from trainwell.nn.registry import ACTIVATIONS, NORMS as NORM_REGISTRY

    layers: list[nn.Module] = []
    for l in range(depth):
        block = [nn.Linear(in_dim if l == 0 else width, width)]
        if norm is not None:
            block.append(NORM_REGISTRY.build(norm, num_features=width, dims=0))
        block.append(ACTIVATIONS.build(act))
        layers.append(nn.Sequential(*block))
    return nn.Sequential(*layers)


def init_stats(
    depth: int = 10,
    width: int = 500,
    act: str = "tanh",
    init: str = "normal",
    std: float = 0.01,
    batch: int = 1000,
    norm: str | None = None,
    backward: bool = False,
    seed: int = 0,
    in_dim: int | None = None,
    bins: int = 50,
) -> InitStatsResult:
    """Run the experiment (see the module docstring); same seed → same numbers.

    Args:
        depth, width: number and size of the hidden layers.
        act: one of relu, tanh, sigmoid, leaky_relu, gelu, selu.
        init: one of normal (uses `std`), xavier, kaiming, lecun, orthogonal.
        batch, in_dim: the input is N(0, 1) of shape batch × in_dim (in_dim defaults to width).
        norm: None, "batch" or "layer" between each Linear and its activation.
        backward: also back-propagate g ~ N(0, 1) from the top and record gradient mean/std.
        seed: seeds the weights, the data and g.
        bins: histogram bins over each layer's [min, max].
    """
    if act not in ACTS:
        raise UserError(f"init_stats: unknown activation {act!r}{did_you_mean(act, ACTS)}; choose one of {', '.join(ACTS)}")
    if init not in INITS:
        raise UserError(f"init_stats: unknown init {init!r}{did_you_mean(init, INITS)}; choose one of {', '.join(INITS)}")
    if norm not in NORMS:
        raise UserError(f"init_stats: norm must be one of {NORMS}, found {norm!r}")
    if depth < 1 or width < 1 or batch < 2 or bins < 1:
        raise UserError(f"init_stats: need depth ≥ 1, width ≥ 1, batch ≥ 2, bins ≥ 1; found {depth}, {width}, "
                        f"{batch}, {bins}")
    if depth * width * width > MAX_WEIGHTS or width * batch > MAX_WEIGHTS:
        raise UserError(f"init_stats: depth × width² = {depth}×{width}² weights (and width × batch activations) must "
                        f"stay ≤ {MAX_WEIGHTS:.0e}; found depth {depth}, width {width}, batch {batch}")
    if not (isinstance(std, (int, float)) and math.isfinite(std) and std >= 0):
        raise UserError(f"init_stats: std (of --init normal) must be a finite number ≥ 0, found {std!r}")
    from trainwell.nn.registry import initialize

    in_dim = width if in_dim is None else in_dim
    gen = torch.Generator().manual_seed(seed)
    net = build_net(depth, width, in_dim, act, norm)
    initialize(net, _init_spec(init, act, std), generator=gen)
    net.train()  # BatchNorm normalizes with the batch's statistics, as in training
    x = torch.randn(batch, in_dim, generator=gen)
    input_std = float(x.std(unbiased=False))

    outputs: list[torch.Tensor] = []
    h = x
    with torch.set_grad_enabled(backward):
        for block in net:
            h = block(h)
            if backward:
                h.retain_grad()
            outputs.append(h)
        if backward:
            h.backward(torch.randn(h.shape, generator=gen))

    kind = S.activation_kind(net[0][-1])
    fields = S.activation_fields(kind)
    result = InitStatsResult(
        config={"depth": depth, "width": width, "act": act, "init": init, "std": std if init == "normal" else None,
                "batch": batch, "norm": norm, "backward": backward, "seed": seed, "in_dim": in_dim, "bins": bins},
        input_std=input_std,
    )
    for index, out in enumerate(outputs, start=1):
        summary = S.activation_summary(out.detach(), kind, bins).tolist()
        values = dict(zip(fields, summary))
        extra = {f: values[f] for f in fields[4:]}
        layer = LayerInitStats(
            index=index, mean=values["mean"], std=values["std"], lo=values["lo"], hi=values["hi"],
            hist=[int(c) for c in summary[len(fields):]],
            verdict=layer_verdict(values["std"], kind, extra.get("saturated_frac"), input_std,
                                  extra.get("dead_frac") if act == "relu" else None),
            **extra,
        )
        if backward and out.grad is not None:
            layer.grad_mean, layer.grad_std = S.gradient_summary(out.grad).tolist()
        result.layers.append(layer)
    return result
