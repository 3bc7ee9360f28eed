"""Inverted dropout whose masks come from an explicit generator: the per-trial mask convention.

The convention (shared by the batched run and `reference_train_one`, so they can be compared
exactly): in training mode, each dropout module — in the order the forward pass reaches them —
draws ``u = torch.rand(mask_shape, generator=g)`` on the generator's device and computes

    mask = (u >= p).to(dtype) / (1 - p),      y = x * mask          (Srivastava et al., 2014)

with ``mask_shape = x.shape`` for ``nn.Dropout`` and ``(N, C, 1, ...)`` (whole channels, as
``nn.Dropout1d``/``nn.Dropout2d``; Tompson et al., 2015) for the channel variants. With p = 0 no
numbers are drawn (the stream is not advanced); in eval mode the layer is the identity.

`GeneratorDropout` is the module form; `use_generator_dropout(model, generator)` puts it in
place of the nn.Dropout* children of a model the caller owns (the reference builds its own).

Example:
    >>> g = torch.Generator().manual_seed(0)
    >>> y = generator_dropout(torch.ones(2, 4), 0.5, g)
    >>> sorted(set(y.flatten().tolist())) in ([0.0, 2.0], [2.0], [0.0])
    True
"""
from __future__ import annotations

import torch
from torch import nn
from trainwell.nn.dropout import InvertedDropout, SpatialDropout

DROPOUT_TYPES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, InvertedDropout, SpatialDropout)


def mask_shape(x_shape: tuple[int, ...], channelwise: bool) -> tuple[int, ...]:
    """Shape of the mask for an input of `x_shape`: the full shape, or (N, C, 1, ...) for channels."""
    if not channelwise:
        return tuple(x_shape)
    return tuple(x_shape[:2]) + (1,) * (len(x_shape) - 2)


def dropout_mask(shape: tuple[int, ...], p: float, generator: torch.Generator, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The scaled keep mask ``(u >= p) / (1 - p)`` with ``u ~ U[0, 1)`` drawn from `generator`."""
    u = torch.rand(shape, generator=generator, device=generator.device)
    return ((u >= p).to(dtype) / (1.0 - p)).to(device)


def generator_dropout(x: torch.Tensor, p: float, generator: torch.Generator, *, channelwise: bool = False, training: bool = True) -> torch.Tensor:
    """Inverted dropout of `x` with rate `p`, masks from `generator` (see the module docstring)."""
    if not training or p == 0.0:
        return x
    return x * dropout_mask(mask_shape(tuple(x.shape), channelwise), p, generator, x.dtype, x.device)


class GeneratorDropout(nn.Module):
    """`generator_dropout` as a module; ``channelwise=True`` drops whole channels (Dropout1d/2d)."""

    def __init__(self, p: float, generator: torch.Generator, channelwise: bool = False):
        super().__init__()
        self.p = float(p)
        self.generator = generator
        self.channelwise = channelwise

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        return generator_dropout(x, self.p, self.generator, channelwise=self.channelwise)

    def extra_repr(self) -> str:
        return f"p={self.p}, channelwise={self.channelwise}"


def is_channelwise(module: nn.Module) -> bool:
    return isinstance(module, (nn.Dropout1d, nn.Dropout2d, SpatialDropout))


def set_dropout_rate(model: nn.Module, p: float) -> None:
    """Set the rate of every nn.Dropout* module of `model` to `p` (in place)."""
    for module in model.modules():
        if isinstance(module, DROPOUT_TYPES):
            module.p = float(p)


def use_generator_dropout(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """Replace (in place) every nn.Dropout* child of `model` by a `GeneratorDropout` drawing from `generator`.

    Only for a model the caller owns (built for this purpose); returns `model`.
    """
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, DROPOUT_TYPES):
                replacement = GeneratorDropout(child.p, generator, channelwise=is_channelwise(child))
                replacement.train(child.training)
                setattr(parent, name, replacement)
    return model


def stacked_masks(
    generators: list[torch.Generator],
    rates: list[float],
    x_shape: tuple[int, ...],
    channelwise: bool,
    dtype: torch.dtype,
    device: torch.device,
) -> torch.Tensor:
    """K×(mask shape) masks for one dropout site: trial k draws from ``generators[k]`` with rate
    ``rates[k]`` exactly as `generator_dropout` would on an input of `x_shape` (one trial's shape);
    a trial with rate 0 gets ones and draws nothing."""
    shape = mask_shape(x_shape, channelwise)
    masks = [
        torch.ones(shape, dtype=dtype, device=device) if p == 0.0 else dropout_mask(shape, p, g, dtype, device)
        for g, p in zip(generators, rates)
    ]
    return torch.stack(masks)
