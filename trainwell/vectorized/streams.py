"""Per-trial random streams: seeds, model init, and the batch order.

Seeding convention (the Trainer follows the same one), for a trial with seed ``s``:

* model init:    ``make_model(torch.Generator().manual_seed(s))``, then every parameter with
                 ndim > 1 is multiplied by ``init_scale`` when one is given;
* batch order:   ``g = torch.Generator().manual_seed(s + 1)``; each epoch ``torch.randperm(N,
                 generator=g)``; batches are consecutive slices of ``batch_size``; the last,
                 incomplete one is dropped (drop_last=True). The permutation is drawn on the CPU,
                 so the batch order does not depend on the device;
* dropout masks: ``torch.Generator(device=device).manual_seed(s + 2)`` (see `dropout.py`).

`BatchOrder` yields the indices of all K trials at once: a K×B tensor ``idx`` so the batched
gather is ``x[idx]`` (K×B×...; one ``index_select``, `train_many.gather`) — different trials see
different batches.

Example:
    >>> order = BatchOrder([0, 1], n=10, batch_size=4, device="cpu")
    >>> order.next().shape
    torch.Size([2, 4])
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from trainwell.errors import UserError


def init_generator(seed: int) -> torch.Generator:
    """Generator for the model's initial weights."""
    return torch.Generator().manual_seed(seed)


def batch_generator(seed: int) -> torch.Generator:
    """Generator of the batch order (CPU, so the order is device-independent)."""
    return torch.Generator().manual_seed(seed + 1)


def dropout_generator(seed: int, device: torch.device | str | None = None) -> torch.Generator:
    """Generator of the dropout masks, on the training device."""
    return torch.Generator(device=torch.device(device or "cpu")).manual_seed(seed + 2)


def build_model(make_model: Callable[[torch.Generator], nn.Module], seed: int, init_scale: float | None) -> nn.Module:
    """``make_model(Generator().manual_seed(seed))`` with weights (ndim > 1) scaled by `init_scale`."""
    model = make_model(init_generator(seed))
    if not isinstance(model, nn.Module):
        raise UserError(f"make_model must return an nn.Module, got {type(model).__name__}")
    if init_scale is not None:
        with torch.no_grad():
            for p in model.parameters():
                if p.ndim > 1:
                    p.mul_(init_scale)
    return model


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Full batches per epoch (drop_last=True); errors when not even one fits."""
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise UserError(f"batch_size must be a positive int, got {batch_size!r}")
    if batch_size > n:
        raise UserError(f"batch_size = {batch_size} is larger than the {n} training examples (the last incomplete batch is dropped)")
    return n // batch_size


class BatchOrder:
    """K per-trial permutation streams; `next()` returns the K×B indices of the next step."""

    def __init__(self, seeds: Sequence[int], n: int, batch_size: int, device: torch.device | str):
        self.generators = [batch_generator(s) for s in seeds]
        self.n, self.batch_size, self.device = n, batch_size, torch.device(device)
        self.per_epoch = steps_per_epoch(n, batch_size)
        self.position = self.per_epoch  # forces a new permutation on the first call
        self.perm: torch.Tensor | None = None

    def next(self) -> torch.Tensor:
        if self.position == self.per_epoch:
            perms = [torch.randperm(self.n, generator=g) for g in self.generators]
            self.perm = torch.stack(perms).to(self.device)
            self.position = 0
        b = self.batch_size
        idx = self.perm[:, self.position * b : (self.position + 1) * b]
        self.position += 1
        return idx


def single_batches(seed: int, n: int, batch_size: int, steps: int):
    """The same batch order for ONE trial, as a generator of 1-D index tensors (for the reference)."""
    g = batch_generator(seed)
    per_epoch = steps_per_epoch(n, batch_size)
    step = 0
    while step < steps:
        perm = torch.randperm(n, generator=g)
        for j in range(per_epoch):
            if step == steps:
                return
            yield perm[j * batch_size : (j + 1) * batch_size]
            step += 1
