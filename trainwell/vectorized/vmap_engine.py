"""The general path: K models as one with ``torch.func.vmap`` over ``functional_call``.

Any module whose forward is a pure function of (parameters, input) works: ``vmap`` maps
``functional_call(template, params_k, x_k)`` over dim 0 of the stacked parameters (K×...) and of
the batch (K×B×..., each trial its own batch). Autograd flows through vmap, so, as in the
hand-batched path, the backward of the summed per-trial losses gives per-trial gradients.

Dropout under vmap cannot draw from K different generators, so the template's nn.Dropout*
modules are replaced by `MaskDropout`, which multiplies by a ``mask`` buffer; the K×... masks are
drawn *before* the forward, per trial and per site in forward order (found once by a shape probe),
and passed in as stacked buffers. That is the same sequence of draws `generator_dropout` makes.

Limits: a module reached twice in one forward that is a dropout site is refused (one mask per
site); other random ops inside the model raise vmap's own error (randomness="error").
"""
from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call, vmap

from trainwell.vectorized.dropout import DROPOUT_TYPES, is_channelwise
from trainwell.errors import UserError


class MaskDropout(nn.Module):
    """Multiplies by the ``mask`` buffer when one is given (training), identity otherwise."""

    def __init__(self, channelwise: bool):
        super().__init__()
        self.channelwise = channelwise
        self.register_buffer("mask", None, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.mask is None else x * self.mask


class VmapModel:
    """K stacked copies of `template` (same call convention as `BatchedSequential.forward`)."""

    def __init__(self, template: nn.Module, k: int, probe_x: torch.Tensor):
        self.k = k
        self.template = copy.deepcopy(template)
        self.sites: list[tuple[str, bool]] = []  # (module name, channelwise) in forward order
        for parent_name, parent in list(self.template.named_modules()):
            for name, child in list(parent.named_children()):
                if isinstance(child, DROPOUT_TYPES):
                    setattr(parent, name, MaskDropout(is_channelwise(child)))
        self.shapes = self._probe(probe_x)

    def _probe(self, x: torch.Tensor) -> list[tuple[int, ...]]:
        """Input shape (one trial) and order of each dropout site, from one forward in eval mode."""
        seen: list[tuple[str, tuple[int, ...]]] = []
        names = {m: n for n, m in self.template.named_modules() if isinstance(m, MaskDropout)}
        handles = [m.register_forward_pre_hook(lambda mod, args: seen.append((names[mod], tuple(args[0].shape)))) for m in names]
        try:
            with torch.no_grad():
                self.template.eval()
                self.template(x)
        finally:
            for h in handles:
                h.remove()
        order = [n for n, _ in seen]
        if len(set(order)) != len(order):
            raise UserError(f"train_many (vmap path): a dropout module is used twice in one forward ({order}); give each use its own module")
        self.sites = [(n, self.template.get_submodule(n).channelwise) for n, _ in seen]
        return [s for _, s in seen]

    def forward(self, params: dict[str, torch.Tensor], x: torch.Tensor, draw_mask: Callable | None) -> torch.Tensor:
        buffers = {}
        training = draw_mask is not None
        self.template.train(training)
        if training:
            b = x.shape[1]
            for site, ((name, channelwise), shape) in enumerate(zip(self.sites, self.shapes)):
                mask = draw_mask(site, (b,) + shape[1:], channelwise)
                if mask is not None:
                    buffers[f"{name}.mask"] = mask

        def one(p, bufs, xk):
            return functional_call(self.template, {**p, **bufs}, (xk,))

        return vmap(one, in_dims=(0, 0, 0))(params, buffers, x)
