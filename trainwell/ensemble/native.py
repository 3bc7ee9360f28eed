"""Swap trainwell's parameter-free activation modules for their torch.nn twins (same function).

`train_many`'s fast batched engine compiles Sequentials of torch.nn layers and recognizes
activations by their torch class; trainwell's own activation modules (`trainwell.nn.activations`)
compute exactly the same functions but are other classes, so a trainwell model would otherwise
go to the much slower vmap engine. This adapter returns the same model with, e.g.,
``trainwell ReLU → nn.ReLU``, ``GELU(approximate) → nn.GELU(approximate)``,
``LeakyReLU(slope) → nn.LeakyReLU(slope)``, ``Swish(β=1, fixed) → nn.SiLU``. Modules with
parameters (PReLU, learnable Swish) are left alone. Parameters, buffers and state_dict keys
are unchanged (activations own none), so weights load into either version.

Example:
    >>> m = to_torch_activations(mlp((40,), 10, activation="gelu"))
    >>> type(m.act1).__name__
    'GELU'
"""
from __future__ import annotations

from torch import nn


def _twin(m: nn.Module) -> nn.Module | None:
    from trainwell.nn import activations as A

    kind = type(m)
    if kind is A.ReLU:
        return nn.ReLU()
    if kind is A.Tanh:
        return nn.Tanh()
    if kind is A.Sigmoid:
        return nn.Sigmoid()
    if kind is A.SELU:
        return nn.SELU()
    if kind is A.LeakyReLU:
        return nn.LeakyReLU(m.slope)
    if kind is A.ELU:
        return nn.ELU(m.alpha)
    if kind is A.GELU:
        return nn.GELU(approximate=m.approximate)
    if kind is A.Swish and not m.learnable and float(m.beta) == 1.0:
        return nn.SiLU()
    return None


def to_torch_activations(model: nn.Module) -> nn.Module:
    """`model` with every replaceable trainwell activation swapped in place (returned for chaining)."""
    for name, child in list(model.named_children()):
        twin = _twin(child)
        if twin is not None:
            setattr(model, name, twin)
        else:
            to_torch_activations(child)
    return model


__all__ = ["to_torch_activations"]
