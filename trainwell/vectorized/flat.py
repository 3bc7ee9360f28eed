"""`FlatStack`: the parameters of K stacked models in ONE flat buffer, with a matching gradient buffer.

Every named parameter is a contiguous K×... block of ``data`` (trial k in row k, as everywhere in
this package) and its gradient the same block of ``grad``. Contiguous blocks are what the bmm
kernels want: the "mlp" engine writes each weight gradient straight into its block with
``torch.bmm(..., out=)`` (into a strided view, bmm computes elsewhere and copies), and autograd engines accumulate into the blocks in place (`attach_grads`). One buffer lets
the optimizer run its trial-independent passes (the Adam moments, √v, the division) as one call
each over all parameters; only the passes with per-trial values (η, λ) go block by block with
K×1 columns.

Layout: the parameters that get weight decay (``decay[i]``) come first; names keep their
`named_parameters` order in ``params``. Views of a buffer that does not require grad are leaves,
so with ``requires_grad=True`` autograd engines can use them as parameters directly.

Example:
    >>> w, b = torch.ones(2, 3, 4), torch.zeros(2, 3)
    >>> s = FlatStack({"w": w, "b": b}, decay=[True, False])
    >>> s.data.shape, s.params["w"].shape, s.params["w"].is_contiguous(), s.blocks["b"]
    (torch.Size([30]), torch.Size([2, 3, 4]), True, slice(24, 30, None))
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class FlatStack:
    """Flat parameter and gradient buffers with per-parameter K×... views (see the module docstring)."""

    def __init__(self, tensors: dict[str, torch.Tensor], decay: Sequence[bool] | None = None, *,
                 requires_grad: bool = False, device: torch.device | str | None = None):
        names = list(tensors)
        if not names:
            raise ValueError("FlatStack needs at least one parameter tensor")
        flags = [True] * len(names) if decay is None else [bool(d) for d in decay]
        if len(flags) != len(names):
            raise ValueError(f"decay: one flag per parameter ({len(names)}), got {len(flags)}")
        first = tensors[names[0]]
        k = first.shape[0]
        for name in names:
            if tensors[name].ndim < 1 or tensors[name].shape[0] != k:
                raise ValueError(f"every tensor must be K×... with the same K = {k}; {name!r} has shape {tuple(tensors[name].shape)}")
        device = torch.device(device) if device is not None else first.device
        order = [i for i in range(len(names)) if flags[i]] + [i for i in range(len(names)) if not flags[i]]
        self.k = k
        self.blocks: dict[str, slice] = {}  # name -> its range of the flat buffers
        start = 0
        for i in order:
            n = tensors[names[i]].numel()
            self.blocks[names[i]] = slice(start, start + n)
            start += n
        self.n_decay = sum(tensors[names[i]].numel() for i in order if flags[i])
        self.data = torch.empty(start, dtype=first.dtype, device=device)
        self.grad = torch.zeros(start, dtype=first.dtype, device=device)
        self.params: dict[str, torch.Tensor] = {}
        self.grads: dict[str, torch.Tensor] = {}
        for name in names:  # named_parameters order
            shape = tuple(tensors[name].shape)
            block = self.blocks[name]
            view = self.data[block].view(shape)
            view.copy_(tensors[name].detach())
            self.params[name] = view.requires_grad_(True) if requires_grad else view
            self.grads[name] = self.grad[block].view(shape)
        self.decay = {name: flags[i] for i, name in enumerate(names)}

    @classmethod
    def from_models(cls, models: list[nn.Module], decayed: set[str], *, requires_grad: bool,
                    device: torch.device | str | None = None) -> FlatStack:
        """Stack the parameters of K same-architecture models (trial k = ``models[k]``)."""
        per_model = [dict(m.named_parameters()) for m in models]
        names = list(per_model[0])
        tensors = {name: torch.stack([pm[name].detach() for pm in per_model]) for name in names}
        return cls(tensors, [name in decayed for name in names], requires_grad=requires_grad, device=device)

    def rows(self, buffer: torch.Tensor, name: str) -> torch.Tensor:
        """``name``'s block of a flat buffer (``data``, ``grad`` or optimizer state) as K×(numbers per trial)."""
        return buffer[self.blocks[name]].view(self.k, -1)

    def attach_grads(self) -> None:
        """Point every parameter's ``.grad`` at its block of the flat gradient (autograd engines)."""
        for name, p in self.params.items():
            p.grad = self.grads[name]

    def zero_grad(self) -> None:
        self.grad.zero_()

    def detached(self) -> dict[str, torch.Tensor]:
        """{name: K×... copy} of the current parameters (independent of the buffer)."""
        return {name: p.detach().clone() for name, p in self.params.items()}
