"""Normalization layers for N×F (dims=0), N×C×L (dims=1) and N×C×H×W (dims=2) inputs.

Every layer computes x̂ = (x − μ) / √(σ² + ε) over some axes, then y = γ·x̂ + β with a learnable
scale γ and shift β per channel (axis 1). They differ in the axes of μ and σ²:

| name     | statistics over                         | paper                          |
|----------|-----------------------------------------|--------------------------------|
| batch    | N and spatial axes, per channel         | Ioffe & Szegedy 2015           |
| layer    | C and spatial axes, per example         | Ba, Kiros & Hinton 2016        |
| instance | spatial axes, per example and channel   | Ulyanov, Vedaldi & Lempitsky 2016 |
| group    | C/G channels and spatial axes, per example and group | Wu & He 2018      |

BatchNorm uses minibatch statistics in training and running averages at test time (so it can be
folded into the preceding layer: see `fold_batchnorm`); the others are the same in both modes.

Choice for `layer`: normalizing over *all* non-batch axes with `nn.LayerNorm` would need the
spatial size up front. `LayerNormNd` is GroupNorm with one group — exactly "statistics over C and
all spatial axes of each example" — with one γ and β per channel, for any length or image size.

Example (by name, through the NORMS registry):
    >>> from trainwell.nn.registry import build_norm
    >>> norm = build_norm("group", num_features=32, dims=2, groups=8)
"""
from __future__ import annotations

import math

from torch import nn

from trainwell.errors import UserError

_BATCH = {0: nn.BatchNorm1d, 1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
_INSTANCE = {1: nn.InstanceNorm1d, 2: nn.InstanceNorm2d, 3: nn.InstanceNorm3d}


def _check(num_features: int | None, dims: int, who: str) -> int:
    if not isinstance(num_features, int) or isinstance(num_features, bool) or num_features < 1:
        raise UserError(f"norm {who!r}: num_features must be a positive integer, got {num_features!r}")
    if dims not in (0, 1, 2, 3):
        raise UserError(
            f"norm {who!r}: dims must be 0 (N×F), 1 (N×C×L), 2 (N×C×H×W) or 3, got {dims!r}"
        )
    return num_features


def batch_norm(
    num_features: int | None = None, dims: int = 0, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True
) -> nn.Module:
    """BatchNorm: per-channel statistics over the batch (and spatial axes).

    In training: μ, σ² of the minibatch; running averages r ← (1 − momentum)·r + momentum·stat.
    In eval: the running averages.
    """
    c = _check(num_features, dims, "batch")
    return _BATCH[dims](c, eps=eps, momentum=momentum, affine=affine)


class LayerNormNd(nn.GroupNorm):
    """LayerNorm over channels and all spatial axes of each example, γ and β per channel.

    Shapes: N×C, N×C×L, N×C×H×W → same. For N×F it equals `nn.LayerNorm(F)`.
    Implemented as GroupNorm with a single group (Wu & He 2018 note the equivalence).
    """

    def __init__(self, num_features: int, eps: float = 1e-5, affine: bool = True):
        super().__init__(1, num_features, eps=eps, affine=affine)

    def extra_repr(self) -> str:
        return f"{self.num_channels}, eps={self.eps}, affine={self.affine}"


def layer_norm(num_features: int | None = None, dims: int = 0, eps: float = 1e-5, affine: bool = True) -> nn.Module:
    """LayerNorm over the channel and spatial axes of each example (see `LayerNormNd`)."""
    c = _check(num_features, dims, "layer")
    return LayerNormNd(c, eps=eps, affine=affine)


def instance_norm(num_features: int | None = None, dims: int = 1, eps: float = 1e-5, affine: bool = True) -> nn.Module:
    """InstanceNorm: per example and channel, over the spatial axes (no running statistics)."""
    c = _check(num_features, dims, "instance")
    if dims == 0:
        raise UserError(
            "norm 'instance' needs spatial axes (dims 1, 2 or 3); with N×F features (dims=0) each "
            "example has one value per channel and normalizing it would give 0: use 'layer'"
        )
    return _INSTANCE[dims](c, eps=eps, affine=affine, track_running_stats=False)


def group_norm(
    num_features: int | None = None, dims: int = 0, groups: int | None = None, eps: float = 1e-5, affine: bool = True
) -> nn.Module:
    """GroupNorm: per example, over groups of C/G channels and the spatial axes.

    `groups` must divide num_features. Default: gcd(C, 32) — 32 groups as in Wu & He (2018) where
    C allows it. G = 1 is LayerNorm, G = C is InstanceNorm (with per-channel affine).
    """
    c = _check(num_features, dims, "group")
    g = math.gcd(c, 32) if groups is None else groups
    if not isinstance(g, int) or g < 1 or c % g:
        raise UserError(f"norm 'group': groups must be a positive divisor of num_features={c}, got {groups!r}")
    return nn.GroupNorm(g, c, eps=eps, affine=affine)


def no_norm(num_features: int | None = None, dims: int = 0) -> nn.Module:
    """No normalization (Identity)."""
    return nn.Identity()


