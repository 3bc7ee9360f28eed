"""An in-memory batch loader: tensors stay on the device, whole batches are sliced by index.

No per-example Python work and no collate: each epoch draws one permutation from an explicit
`torch.Generator` (on the CPU, so the order does not depend on the device) and every batch is
`x[perm[i:i + B]]`. With `drop_last=True` (the default for training) every batch has exactly B
examples, which keeps BatchNorm statistics and step counts regular.
"""
from __future__ import annotations

from collections.abc import Iterator

import torch

from trainwell.errors import UserError


class BatchLoader:
    """Iterate over (x, y) batches of pre-loaded tensors.

    Args:
        x, y: tensors with the example axis first (already on the target device).
        batch_size: examples per batch.
        shuffle: draw a new permutation each epoch from `generator`.
        drop_last: drop the last incomplete batch.
        generator: CPU generator for the permutations (required when shuffle=True).

    Example:
        >>> loader = BatchLoader(x, y, 128, shuffle=True, generator=torch.Generator().manual_seed(1))
        >>> for xb, yb in loader: ...
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        *,
        shuffle: bool = True,
        drop_last: bool = True,
        generator: torch.Generator | None = None,
    ):
        if len(x) != len(y):
            raise UserError(f"BatchLoader: x has {len(x)} examples but y has {len(y)}")
        if batch_size < 1:
            raise UserError(f"batch_size must be >= 1, got {batch_size}")
        if drop_last and batch_size > len(x):
            raise UserError(f"batch_size {batch_size} is larger than the {len(x)} training examples (with drop_last)")
        if shuffle and generator is None:
            raise UserError("BatchLoader: shuffle=True needs an explicit torch.Generator (seeded)")
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = generator
        self._order: torch.Tensor | None = None  # permutation of the current epoch (on x's device)
        self._cursor = 0  # batches of the current epoch already served

    def __len__(self) -> int:
        n, b = len(self.x), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def _new_epoch(self) -> None:
        n = len(self.x)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator)
        else:
            order = torch.arange(n)
        self._order = order.to(self.x.device, non_blocking=True)
        self._cursor = 0

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next batch, starting a new epoch (new permutation) when the current one is done."""
        if self._order is None or self._cursor >= len(self):
            self._new_epoch()
        b = self.batch_size
        idx = self._order[self._cursor * b : (self._cursor + 1) * b]
        self._cursor += 1
        return self.x.index_select(0, idx), self.y.index_select(0, idx)

    @property
    def epoch_done(self) -> bool:
        return self._order is not None and self._cursor >= len(self)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One full epoch."""
        self._new_epoch()
        for _ in range(len(self)):
            yield self.next_batch()

    def state_dict(self) -> dict:
        return {
            "generator": self.generator.get_state() if self.generator is not None else None,
            "order": None if self._order is None else self._order.cpu(),
            "cursor": self._cursor,
        }

    def load_state_dict(self, state: dict) -> None:
        if state["generator"] is not None and self.generator is not None:
            self.generator.set_state(state["generator"])
        self._order = None if state["order"] is None else state["order"].to(self.x.device)
        self._cursor = int(state["cursor"])
