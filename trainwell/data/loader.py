"""An in-memory batch loader: tensors stay on the device, whole batches are sliced by index.

No per-example Python work and no collate: each epoch draws one permutation from an explicit
`torch.Generator` (on the CPU, so the order does not depend on the device) and every batch is
`x[perm[i:i + B]]`. With `drop_last=True` (the default for training) every batch has exactly B
examples, which keeps BatchNorm statistics and step counts regular.

Sharded for data-parallel training (`rank`, `world_size` = N; torch's DistributedSampler with
drop-last): `batch_size` B is the GLOBAL batch, every process draws the same permutation and
process r takes b = B/N examples a step, its i-th batch being perm[i·B + r : (i+1)·B : N]. The N
batches of step i together are batch i of one process; every process has n // B steps an epoch.
The saved position (`state_dict`) is in the global permutation, so a run resumes with any N.
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
        rank, world_size: this process's share of a data-parallel run (see the module docstring);
            batch_size is then the global batch and must be divisible by world_size.

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
        rank: int = 0,
        world_size: int = 1,
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
        self.rank, self.world_size = check_shard(rank, world_size, batch_size, drop_last)
        self.local_batch_size = batch_size // self.world_size  # examples a step in this process
        self.shard = (self.rank, self.world_size)
        self._perm: torch.Tensor | None = None  # the epoch's global permutation (CPU)
        self._order: torch.Tensor | None = None  # this process's share of it, in order (on x's device)
        self._cursor = 0  # batches of the current epoch already served (= global batches)

    def __len__(self) -> int:
        n, b = len(self.x), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def _new_epoch(self, perm: torch.Tensor | None = None) -> None:
        n = len(self.x)
        if perm is None:
            perm = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        self._perm = perm
        order = shard_order(perm, len(self), self.batch_size, self.rank, self.world_size)
        self._order = order.to(self.x.device, non_blocking=True)
        self._cursor = 0

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next batch, starting a new epoch (new permutation) when the current one is done."""
        if self._order is None or self._cursor >= len(self):
            self._new_epoch()
        b = self.local_batch_size
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
        """The epoch's global permutation and the examples of it served by all processes together
        ("position"): the same for any number of processes ("cursor": global batches served)."""
        return {
            "generator": self.generator.get_state() if self.generator is not None else None,
            "order": self._perm,
            "cursor": self._cursor,
            "position": self._cursor * self.batch_size,
        }

    def load_state_dict(self, state: dict) -> None:
        if state["generator"] is not None and self.generator is not None:
            self.generator.set_state(state["generator"])
        if state["order"] is None:
            self._perm = self._order = None
            self._cursor = 0
            return
        self._new_epoch(state["order"].cpu())
        self._cursor = cursor_at(state, self.batch_size)


def check_shard(rank: int, world_size: int, batch_size: int, drop_last: bool) -> tuple[int, int]:
    """(rank, world_size) of a sharded batch source, or a UserError saying what does not fit."""
    if not isinstance(world_size, int) or world_size < 1 or not isinstance(rank, int) or not 0 <= rank < world_size:
        raise UserError(f"a data shard needs 0 <= rank < world_size, got rank {rank!r} of {world_size!r}")
    if world_size > 1:
        if batch_size % world_size:
            raise UserError(f"train.batch_size = {batch_size} is the global batch of all {world_size} processes "
                            f"together and must be divisible by {world_size}; use e.g. "
                            f"{max(world_size, batch_size // world_size * world_size)}")
        if not drop_last:
            raise UserError("a data-parallel run serves whole batches only (drop_last=True), so that every "
                            "process takes the same number of steps")
    return rank, world_size


def shard_order(perm: torch.Tensor, batches: int, batch_size: int, rank: int, world_size: int) -> torch.Tensor:
    """Process `rank`'s share of an epoch's global permutation: every `world_size`-th of the first
    `batches` whole global batches, from `rank` on (all of `perm` for one process)."""
    return perm if world_size == 1 else perm[:batches * batch_size][rank::world_size]


def cursor_at(state: dict, batch_size: int) -> int:
    """Global batches served, from a loader state: its "position" in examples (any number of
    processes) with this global batch size, or its "cursor" (states without a position)."""
    if "position" not in state:
        return int(state["cursor"])
    position = int(state["position"])
    if position % batch_size:
        raise UserError(f"the checkpoint stopped {position} examples into an epoch, which is not a whole number of "
                        f"batches of {batch_size}; resume with the batch size it was written with")
    return position // batch_size
