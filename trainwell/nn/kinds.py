"""What kind of layer a module is: the one place that decides "is this a normalization layer".

Used by the optimizer's decay rule (no weight decay on norm parameters), zero-init of residual
branches, BatchNorm recomputation after weight averaging, freezing BatchNorm when fine-tuning,
the vectorized engine (which refuses running statistics), and the doctor.

A module counts as a normalization layer when it is one of torch's (BatchNorm, SyncBatchNorm,
InstanceNorm, LayerNorm, GroupNorm, RMSNorm, lazy variants included) or when its class sets
``is_normalization = True`` (trainwell's `LayerNormNd` does; so can a user's own norm).
A BatchNorm is a normalization layer that keeps running statistics of the batch: torch's
`_BatchNorm` subclasses (SyncBatchNorm included), or a class with ``is_batchnorm = True``.

Example:
    >>> is_norm(nn.GroupNorm(4, 32)), is_batchnorm(nn.GroupNorm(4, 32)), is_batchnorm(nn.BatchNorm2d(8))
    (True, False, True)
"""
from __future__ import annotations

from torch import nn

NORM_TYPES: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._NormBase,  # BatchNorm1d/2d/3d, SyncBatchNorm, InstanceNorm1d/2d/3d and lazy variants
    nn.LayerNorm,
    nn.GroupNorm,
    nn.RMSNorm,
    nn.LocalResponseNorm,
)


def is_norm(module: nn.Module) -> bool:
    """True for a normalization layer (torch's, or a class with ``is_normalization = True``)."""
    return isinstance(module, NORM_TYPES) or bool(getattr(module, "is_normalization", False))


def is_batchnorm(module: nn.Module) -> bool:
    """True for a BatchNorm (normalizes over the batch, keeps running statistics); a user class
    counts when it sets ``is_batchnorm = True`` or its name contains "BatchNorm"."""
    return (isinstance(module, nn.modules.batchnorm._BatchNorm) or bool(getattr(module, "is_batchnorm", False))
            or "BatchNorm" in type(module).__name__)


def batchnorms(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(qualified name, module) of every BatchNorm of `model`, in module order."""
    return [(name, m) for name, m in model.named_modules() if is_batchnorm(m)]


__all__ = ["NORM_TYPES", "batchnorms", "is_batchnorm", "is_norm"]
