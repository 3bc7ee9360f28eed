"""Any data a user has → a batch source the Trainer can step through.

The Trainer asks a source for `next_batch()` → (x, y) on its device, `len(source)` (batches per
epoch), and `state_dict()`/`load_state_dict()` (exact resume). `as_source` accepts:

| you have                                  | source                    | notes                                                          |
|-------------------------------------------|---------------------------|----------------------------------------------------------------|
| `(x, y)` tensors or NumPy arrays          | `BatchLoader`             | resident on the device, sliced by index: the fast path         |
| a map-style `torch.utils.data.Dataset`    | `DatasetLoader`           | items fetched and collated per batch, order from our generator |
| a `torch.utils.data.DataLoader`           | `UserLoader`              | used as it is (your workers, sampler, collate)                 |
| an `IterableDataset`                      | `UserLoader` over a plain DataLoader                       | |

Batches may be tuples/lists `(x, y, ...)` or dicts; for dicts the input is the first of the keys
"x", "input", "inputs", "image", "images", "data", "features" and the target the first of
"y", "label", "labels", "target", "targets" (or name them: `keys=("pixel_values", "labels")`).

Determinism and resume: `BatchLoader` and `DatasetLoader` draw each epoch's order from an explicit
`torch.Generator` and keep (generator state, order, cursor), so a resumed run sees the same batches
in the same order. A `UserLoader` cannot rewind a loader it does not own: on resume it skips the
batches already served this epoch, which is exact only when your DataLoader's order is seeded
(``DataLoader(..., generator=torch.Generator().manual_seed(s))``); `exact_resume` says which.

Data-parallel runs (`shard=(rank, world_size)`, see `trainwell.train.distributed`): `batch_size` is
the global batch; `BatchLoader` and `DatasetLoader` give each process its DistributedSampler share
of the same seeded permutation (`trainwell.data.loader`), b = batch_size / world_size examples a
step, and save their position world-size-independently. A DataLoader is used as it is only when
its sampler is a `torch.utils.data.DistributedSampler` (then its batch is the per-process one).
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, default_collate

from trainwell.data.loader import BatchLoader, check_shard, cursor_at, shard_order
from trainwell.errors import UserError

INPUT_KEYS = ("x", "input", "inputs", "image", "images", "data", "features")
TARGET_KEYS = ("y", "label", "labels", "target", "targets")


def _pick(batch: Mapping[str, Any], names: Sequence[str], what: str, key: str | None) -> Any:
    if key is not None:
        if key not in batch:
            raise UserError(f"a batch dict has no key {key!r} for the {what}; its keys: {sorted(batch)}")
        return batch[key]
    for name in names:
        if name in batch:
            return batch[name]
    raise UserError(f"a batch dict has none of the {what} keys {list(names)}; its keys: {sorted(batch)} "
                    f"(name them with keys=(input_key, target_key))")


def split_batch(batch: Any, keys: tuple[str | None, str | None] = (None, None)) -> tuple[Any, Any]:
    """(x, y) of a batch that is a tuple/list (x, y, ...) or a dict (see the module docstring)."""
    if isinstance(batch, Mapping):
        return _pick(batch, INPUT_KEYS, "input", keys[0]), _pick(batch, TARGET_KEYS, "target", keys[1])
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return batch[0], batch[1]
    raise UserError(f"a batch must be a tuple (x, y, ...) or a dict with input and target keys, got "
                    f"{type(batch).__name__}" + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else ""))


def to_device(value: Any, device: torch.device) -> Any:
    """Tensors (also inside tuples/lists/dicts) moved to `device`, non-blocking."""
    if isinstance(value, torch.Tensor):
        return value.to(device, non_blocking=True)
    if isinstance(value, Mapping):
        return {k: to_device(v, device) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(to_device(v, device) for v in value)
    return value


def as_tensor(value: Any, name: str, float_input: bool = False) -> torch.Tensor:
    """A tensor from a tensor or array-like, with an error naming `name` when it is not numeric."""
    if isinstance(value, torch.Tensor):
        t = value
    else:
        arr = np.asarray(value)
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise UserError(f"{name} must be numeric (a tensor or a numeric array), got dtype {arr.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if float_input and not torch.is_floating_point(t):
        t = t.float()
    if float_input and t.dtype == torch.float64:
        t = t.float()
    return t


def check_xy(x: torch.Tensor, y: torch.Tensor, name: str) -> None:
    """Shapes agree, x is finite: the checks every (x, y) pair gets (one reduction on the device)."""
    if x.dim() < 1 or len(x) == 0:
        raise UserError(f"{name}: x is empty (shape {tuple(x.shape)})")
    if len(x) != len(y):
        raise UserError(f"{name}: x has {len(x)} examples but y has {len(y)}")
    if torch.is_floating_point(x) and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise UserError(f"{name}: x contains {bad} NaN/Inf value(s); clean or impute the data first")
    if torch.is_floating_point(y) and not bool(torch.isfinite(y).all()):
        raise UserError(f"{name}: y contains NaN/Inf values")


def xy_tensors(data: Any, name: str) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(x, y) tensors if `data` is an (x, y) pair of tensors/arrays, else None."""
    if isinstance(data, (tuple, list)) and len(data) == 2 and not isinstance(data, Dataset):
        x, y = data
        if isinstance(x, (torch.Tensor, np.ndarray)) and isinstance(y, (torch.Tensor, np.ndarray, list)):
            xt, yt = as_tensor(x, f"{name} x", float_input=True), as_tensor(y, f"{name} y")
            if yt.dtype == torch.float64:
                yt = yt.float()
            elif not torch.is_floating_point(yt) and yt.dtype not in (torch.int64, torch.bool):
                yt = yt.long()  # labels as int64, what the losses take
            check_xy(xt, yt, name)
            return xt, yt
    return None


class _EpochBatches:
    """A batch sampler over n items: each epoch a permutation from our generator; resumable.
    Sharded (rank r of N): the global batch is `batch_size`, this process takes every N-th item
    of the permutation from r on (see `trainwell.data.loader`)."""

    def __init__(self, n: int, batch_size: int, shuffle: bool, drop_last: bool, generator: torch.Generator,
                 rank: int = 0, world_size: int = 1):
        self.n, self.batch_size, self.shuffle, self.drop_last, self.generator = n, batch_size, shuffle, drop_last, generator
        self.rank, self.world_size = check_shard(rank, world_size, batch_size, drop_last)
        self.order: torch.Tensor | None = None  # the epoch's global permutation
        self.mine: torch.Tensor | None = None  # this process's share of it
        self.cursor = 0

    def __len__(self) -> int:
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)

    def start(self, order: torch.Tensor | None = None) -> None:
        if order is None:
            order = torch.randperm(self.n, generator=self.generator) if self.shuffle else torch.arange(self.n)
        self.order, self.cursor = order, 0
        self.mine = shard_order(order, len(self), self.batch_size, self.rank, self.world_size)

    def next_indices(self) -> list[int]:
        if self.order is None or self.cursor >= len(self):
            self.start()
        b = self.batch_size // self.world_size
        idx = self.mine[self.cursor * b:(self.cursor + 1) * b].tolist()
        self.cursor += 1
        return idx


class DatasetLoader:
    """Batches of a map-style Dataset: our seeded order, items collated with `default_collate`.

    Items are fetched in this process (no worker processes): bring your own DataLoader for
    parallel loading. Random transforms inside `__getitem__` run per fetch, as in a DataLoader.
    """

    def __init__(self, dataset: Dataset, batch_size: int, *, device: torch.device, shuffle: bool = True,
                 drop_last: bool = True, generator: torch.Generator, keys: tuple[str | None, str | None] = (None, None),
                 collate=default_collate, shard: tuple[int, int] | None = None):
        n = len(dataset)  # type: ignore[arg-type]
        if n == 0:
            raise UserError("the Dataset is empty")
        if drop_last and batch_size > n:
            batch_size = n
        self.dataset, self.device, self.keys, self.collate = dataset, device, keys, collate
        self.batch_size = batch_size  # the global batch (all processes of a data-parallel run together)
        self.sampler = _EpochBatches(n, batch_size, shuffle, drop_last, generator, *(shard or (0, 1)))
        self.shard = (self.sampler.rank, self.sampler.world_size)
        self.exact_resume = True

    def __len__(self) -> int:
        return len(self.sampler)

    def next_batch(self) -> tuple[Any, Any]:
        items = [self.dataset[i] for i in self.sampler.next_indices()]
        x, y = split_batch(self.collate(items), self.keys)
        return to_device(x, self.device), to_device(y, self.device)

    def state_dict(self) -> dict[str, Any]:
        """The epoch's global permutation and the examples of it served by all processes together."""
        s = self.sampler
        return {"generator": s.generator.get_state(), "order": s.order, "cursor": s.cursor,
                "position": s.cursor * s.batch_size}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sampler.generator.set_state(state["generator"])
        if state["order"] is None:
            self.sampler.order, self.sampler.cursor = None, 0
            return
        self.sampler.start(state["order"])
        self.sampler.cursor = cursor_at(state, self.sampler.batch_size)


class UserLoader:
    """The user's own DataLoader (or any re-iterable of batches), stepped batch by batch."""

    def __init__(self, loader: Any, *, device: torch.device, keys: tuple[str | None, str | None] = (None, None)):
        self.loader, self.device, self.keys = loader, device, keys
        try:
            self._len = len(loader)
        except TypeError:
            raise UserError("the training loader has no length (an IterableDataset without __len__?); "
                            "give train.steps / steps= so the run length is known, and a __len__") from None
        if self._len == 0:
            raise UserError("the training DataLoader yields no batches (empty dataset, or batch_size > size with drop_last)")
        self._it: Iterator[Any] | None = None
        self.cursor = 0
        self.epoch = 0
        gen = getattr(loader, "generator", None)
        sampler = getattr(loader, "sampler", None)
        self.exact_resume = gen is not None or not isinstance(sampler, torch.utils.data.RandomSampler)
        first = getattr(loader, "batch_size", None)
        self.batch_size = first if isinstance(first, int) else None
        distributed = _distributed_sampler(loader)
        self.shard = None if distributed is None else (distributed.rank, distributed.num_replicas)

    def __len__(self) -> int:
        return self._len

    def next_batch(self) -> tuple[Any, Any]:
        if self._it is None or self.cursor >= self._len:
            self._it, self.cursor = iter(self.loader), 0
            if self.epoch and hasattr(getattr(self.loader, "sampler", None), "set_epoch"):
                self.loader.sampler.set_epoch(self.epoch)
            self.epoch += 1
        try:
            batch = next(self._it)
        except StopIteration:  # fewer batches than len() said (an IterableDataset): start over
            self._it, self.cursor = iter(self.loader), 0
            batch = next(self._it)
        self.cursor += 1
        x, y = split_batch(batch, self.keys)
        return to_device(x, self.device), to_device(y, self.device)

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "cursor": self.cursor}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch = max(int(state["epoch"]) - 1, 0)
        skip = int(state["cursor"])
        self._it = None
        self.cursor = self._len  # next_batch starts the saved epoch ...
        if skip:
            self.next_batch()
            for _ in range(skip - 1):  # ... and skips what it had served
                next(self._it)
                self.cursor += 1


def _distributed_sampler(loader: Any) -> Any:
    """The DistributedSampler of a DataLoader (as its sampler or its batch sampler's), else None."""
    from torch.utils.data.distributed import DistributedSampler

    for sampler in (getattr(loader, "sampler", None), getattr(getattr(loader, "batch_sampler", None), "sampler", None)):
        if isinstance(sampler, DistributedSampler):
            return sampler
    return None


def _user_loader(data: Any, device: torch.device, keys: tuple[str | None, str | None],
                 shard: tuple[int, int] | None) -> UserLoader:
    source = UserLoader(data, device=device, keys=keys)
    if shard is not None and shard[1] > 1 and source.shard != shard:
        raise UserError(f"this is process {shard[0]} of {shard[1]} of a data-parallel run, and the training "
                        f"{type(data).__name__} is not sharded for it; give (x, y) tensors or a Dataset (trainwell "
                        "shards them), or a DataLoader with sampler=torch.utils.data.DistributedSampler(dataset)")
    return source


def as_source(data: Any, *, batch_size: int, device: torch.device, seed: int, shuffle: bool = True,
              drop_last: bool = True, keys: tuple[str | None, str | None] = (None, None), name: str = "train",
              shard: tuple[int, int] | None = None):
    """A batch source for the Trainer from `data` (see the module docstring); `shard` = (rank,
    world_size) of a data-parallel run, where `batch_size` is the global batch."""
    pair = xy_tensors(data, name)
    gen = torch.Generator().manual_seed(seed)
    if pair is not None:
        x, y = pair
        return BatchLoader(x.to(device), y.to(device), min(batch_size, len(x)), shuffle=shuffle,
                           drop_last=drop_last, generator=gen, **({} if shard is None else
                                                                   {"rank": shard[0], "world_size": shard[1]}))
    if isinstance(data, DataLoader):
        return _user_loader(data, device, keys, shard)
    if isinstance(data, IterableDataset):
        return _user_loader(DataLoader(data, batch_size=batch_size), device, keys, shard)
    if isinstance(data, Dataset) or (hasattr(data, "__getitem__") and hasattr(data, "__len__")
                                     and not isinstance(data, (tuple, list, str, bytes, Mapping))):
        return DatasetLoader(data, batch_size, device=device, shuffle=shuffle, drop_last=drop_last, generator=gen,
                             keys=keys, shard=shard)
    if hasattr(data, "__iter__") and hasattr(data, "__len__") and not isinstance(data, (tuple, str, bytes, Mapping)):
        return _user_loader(data, device, keys, shard)
    raise UserError(f"{name} data must be (x, y) tensors or arrays, a torch Dataset or a DataLoader; got "
                    f"{type(data).__name__}" + (f" of length {len(data)}" if isinstance(data, (tuple, list)) else ""))


def iter_batches(data: Any, *, batch_size: int, device: torch.device,
                 keys: tuple[str | None, str | None] = (None, None), name: str = "val") -> Iterator[tuple[Any, Any]]:
    """One pass over `data` in order (evaluation): (x, y) batches on `device`."""
    pair = xy_tensors(data, name) if not isinstance(data, DataLoader) else None
    if pair is not None:
        x, y = pair
        for i in range(0, len(x), batch_size):
            yield x[i:i + batch_size].to(device, non_blocking=True), y[i:i + batch_size].to(device, non_blocking=True)
        return
    if isinstance(data, (DataLoader, IterableDataset)) or not hasattr(data, "__getitem__"):
        loader = data if isinstance(data, DataLoader) else DataLoader(data, batch_size=batch_size)
    else:
        loader = DataLoader(data, batch_size=batch_size, shuffle=False)
    for batch in loader:
        x, y = split_batch(batch, keys)
        yield to_device(x, device), to_device(y, device)


def first_batch(data: Any, n: int = 64, keys: tuple[str | None, str | None] = (None, None),
                name: str = "train") -> tuple[Any, Any]:
    """Up to `n` examples of `data` (the first ones), on the CPU: for shape probes and checks."""
    pair = xy_tensors(data, name) if not isinstance(data, DataLoader) else None
    if pair is not None:
        return pair[0][:n], pair[1][:n]
    for x, y in iter_batches(data, batch_size=n, device=torch.device("cpu"), keys=keys, name=name):
        return x, y
    raise UserError(f"{name} data yields no batches")


__all__ = ["DatasetLoader", "INPUT_KEYS", "TARGET_KEYS", "UserLoader", "as_source", "as_tensor", "check_xy",
           "first_batch", "iter_batches", "split_batch", "to_device", "xy_tensors"]
