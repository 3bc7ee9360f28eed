"""A class-balanced batch source: each class drawn equally often (for imbalanced data).

Each epoch draws N indices WITH replacement, example i with probability ∝ 1 / n_{y_i} (so every
class has the same total probability 1/C), from an explicit generator; batches are consecutive
slices of that draw. The minority classes are seen more often (repeated), the majority classes
less (subsampled): a remedy for a model that learns to answer the majority class. The
alternative, class weights in the loss (`train.class_weights = "balanced"`), keeps every example
once per epoch and scales its loss instead.

Example:
    >>> loader = BalancedLoader(x, y, 64, generator=torch.Generator().manual_seed(1))
    >>> xb, yb = loader.next_batch()
"""
from __future__ import annotations

from typing import Any

import torch

from trainwell.errors import UserError


class BalancedLoader:
    """Batches of resident tensors with class-balanced sampling (see the module docstring)."""

    exact_resume = True

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, *, generator: torch.Generator):
        if len(x) != len(y):
            raise UserError(f"BalancedLoader: x has {len(x)} examples but y has {len(y)}")
        if y.dim() != 1 or torch.is_floating_point(y):
            raise UserError("train.sampler = \"balanced\" needs integer class labels, one per example")
        if batch_size > len(x):
            batch_size = len(x)
        self.x, self.y, self.batch_size, self.generator = x, y, batch_size, generator
        counts = torch.bincount(y.cpu())
        self.weights = (1.0 / counts.double().clamp(min=1))[y.cpu()]
        self._order: torch.Tensor | None = None
        self._cursor = 0

    def __len__(self) -> int:
        return len(self.x) // self.batch_size

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._order is None or self._cursor >= len(self):
            draw = torch.multinomial(self.weights, len(self.x), replacement=True, generator=self.generator)
            self._order, self._cursor = draw.to(self.x.device), 0
        b = self.batch_size
        idx = self._order[self._cursor * b:(self._cursor + 1) * b]
        self._cursor += 1
        return self.x.index_select(0, idx), self.y.index_select(0, idx)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "order": None if self._order is None else self._order.cpu(),
                "cursor": self._cursor}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self._order = None if state["order"] is None else state["order"].to(self.x.device)
        self._cursor = int(state["cursor"])


__all__ = ["BalancedLoader"]
