"""Data-parallel training with torch.distributed: joining the processes, who is who, the reductions.

`torchrun` (or `trainwell train --nproc N`, see `trainwell.train.launch`) starts one process per
device and sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; `joined` / `init_from_env`
make them one process group — gloo on the CPU, NCCL on CUDA, where each process uses its own device
cuda:LOCAL_RANK. A process started without those variables (or with WORLD_SIZE=1) joins nothing:
`current()` is None and the Trainer runs its plain single-process path, which nothing here touches.

A data-parallel step with N processes, the global batch B (`train.batch_size`) and b = B/N each:

* data: every process draws the SAME seeded permutation of the n examples each epoch and takes
  every N-th example of it from its rank on (torch's DistributedSampler with drop-last), b a step:
  its i-th batch is perm[i·B + rank : (i+1)·B : N]. The N batches of step i together are batch i of
  ONE process with batch B, and every process has n // B steps an epoch (`trainwell.data.loader`).
* gradients: the model is wrapped in torch's `DistributedDataParallel` (`wrap`): backward averages
  the gradients over the processes in buckets while it still runs (communication overlaps
  computation), so every process holds the gradient of the mean loss over the global batch and
  takes the same optimizer step; the weights stay equal without being sent again. (An explicit
  all-reduce after backward would be simpler to read, but serial: no overlap.)
* BatchNorm normalizes with each process's own b examples unless `train.sync_batchnorm`
  (`sync_batchnorm`): then with the statistics of the global batch — the single-process run with
  batch B, up to float rounding. Running statistics are rank 0's (`broadcast_buffers` before each
  evaluation; DDP broadcasts them at each forward).
* metrics: the device-side sums of a log window (loss·n, the task's sums, n) are summed over the
  processes with ONE all_reduce a window (`sum_window`). Validation is sharded: each process scores
  a contiguous 1/N of it and the sums are reduced the same way (`shard_val`). Every process thus
  holds the same numbers and takes the same decisions (a diverged loss, the best step).
  Per-layer statistics (`StatsCallback`) are gathered to rank 0 and merged into the global
  batch's (`gather_to_main`, `trainwell.diagnostics.merge`): one collective a sampled step.
* files: rank 0 alone locks the run directory, reads the checkpoint (sent to the others,
  `from_main`) and writes metrics, checkpoints, weights and the report (the other processes'
  `TrainState.run_dir` is None: their records stay in memory). A checkpoint holds every
  process's random-generator states (`gather`) and the data position as a position in the epoch's
  global permutation, so a run resumes with any number of processes.
* random streams: rank 0 uses the run's seeds; rank r > 0 offsets them by r·RANK_SEED_STRIDE
  (`rank_seed`), so processes draw independent augmentation and dropout noise.
* failures: a process that raises exits; the launcher (torchrun, `--nproc`) then stops the others.
  Collectives time out after TRAINWELL_DIST_TIMEOUT seconds (default 600) should a peer vanish
  without its launcher noticing.

Example (what `trainwell.assemble.train_recipe` does; run it under `torchrun --nproc-per-node 2`):
    >>> with joined("auto") as procs:          # None when not launched as one of several
    ...     state = run.fit()
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from trainwell.errors import UserError

DEFAULT_TIMEOUT_S = 600.0
RANK_SEED_STRIDE = 1_000_003  # rank r's streams start at seed + r·stride (rank 0: the run's own seeds)
T = TypeVar("T")


@dataclass(frozen=True)
class Processes:
    """The process group of a data-parallel run as this process sees it."""

    rank: int
    world_size: int
    local_rank: int
    backend: str

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes files and prints."""
        return self.rank == 0

    @property
    def shard(self) -> tuple[int, int]:
        """(rank, world_size): which share of the data this process takes."""
        return self.rank, self.world_size


def launched() -> bool:
    """True when the launcher's variables say this process is one of several (WORLD_SIZE > 1)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1
    except ValueError:
        raise UserError(f"WORLD_SIZE={os.environ['WORLD_SIZE']!r} is not a number of processes") from None


def current() -> Processes | None:
    """The running process group, or None (not initialized, or a single process)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return None
    return Processes(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")),
                     str(dist.get_backend()))


def shard() -> tuple[int, int] | None:
    """(rank, world_size) of the running group, None for a single process (what batch sources take)."""
    procs = current()
    return None if procs is None else procs.shard


def timeout() -> timedelta:
    """How long a collective may wait for its peers: $TRAINWELL_DIST_TIMEOUT seconds (default 600)."""
    text = os.environ.get("TRAINWELL_DIST_TIMEOUT")
    try:
        seconds = DEFAULT_TIMEOUT_S if text is None else float(text)
    except ValueError:
        raise UserError(f"TRAINWELL_DIST_TIMEOUT={text!r} is not a number of seconds") from None
    if not seconds > 0:
        raise UserError(f"TRAINWELL_DIST_TIMEOUT must be > 0 seconds, got {text!r}")
    return timedelta(seconds=seconds)


def _wants_cuda(device: str) -> bool:
    if device == "auto":
        return torch.cuda.is_available()
    return device.startswith("cuda")


def init_from_env(device: str = "auto") -> Processes | None:
    """Join the process group that the launcher's variables describe (see the module docstring).

    `device` is the recipe's train.device: CUDA ("auto" with a GPU, "cuda") means NCCL with this
    process on cuda:LOCAL_RANK, else gloo on the CPU (one intra-op thread per core share unless
    OMP_NUM_THREADS is set). Returns None, joining nothing, in a process not launched as one of
    several; a group that already exists is returned as it is."""
    if dist.is_available() and dist.is_initialized():
        return current()
    if not launched():
        return None
    if not dist.is_available():
        raise UserError("this process was launched as one of several (WORLD_SIZE > 1) but this torch build "
                        "has no torch.distributed")
    missing = [k for k in ("RANK", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise UserError(f"WORLD_SIZE={os.environ['WORLD_SIZE']} says this process is one of several, but "
                        f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set; start the processes "
                        "with torchrun (or trainwell train --nproc N)")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ["WORLD_SIZE"]))
    options: dict[str, Any] = {}
    if _wants_cuda(device):
        if not torch.cuda.is_available():
            raise UserError(f"train.device={device!r} but CUDA is not available here; use \"auto\" or \"cpu\"")
        if local_rank >= torch.cuda.device_count():
            raise UserError(f"process LOCAL_RANK={local_rank} needs its own GPU, but this machine has "
                            f"{torch.cuda.device_count()}; start at most that many processes per machine")
        torch.cuda.set_device(local_rank)
        backend, options["device_id"] = "nccl", torch.device("cuda", local_rank)
    else:
        backend = "gloo"
        if "OMP_NUM_THREADS" not in os.environ:  # N processes share the cores instead of each taking all
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(local_world, 1)))
    dist.init_process_group(backend, timeout=timeout(), **options)
    return current()


@contextlib.contextmanager
def joined(device: str = "auto") -> Iterator[Processes | None]:
    """The process group for the length of the block (None: a single process, nothing joined).

    A group this call creates is left (after a barrier) when the block ends normally; after an
    error it is left to the process's exit — destroying it while a peer may still be inside a
    collective can abort the process. A group that already existed is used and left alone."""
    existed = dist.is_available() and dist.is_initialized()
    procs = init_from_env(device)
    if existed or procs is None:
        yield procs
        return
    yield procs  # an error in the block is raised here, and what follows is skipped
    dist.barrier()
    dist.destroy_process_group()


def local_device(device: torch.device) -> torch.device:
    """`device`, with CUDA made this process's own GPU (cuda:LOCAL_RANK) in a data-parallel run."""
    if device.type == "cuda" and current() is not None:
        return torch.device("cuda", torch.cuda.current_device())
    return device


def rank_seed(seed: int, rank: int) -> int:
    """The seed of process `rank`'s own random streams: `seed` for rank 0, offset for the others."""
    return seed + RANK_SEED_STRIDE * rank


# ---------------------------------------------------------------------- collectives
def sum_window(packed: torch.Tensor, n: int, summed: int) -> tuple[list[float], int]:
    """A log window's numbers over all processes: the first `summed` entries of `packed` (loss·n and
    the task's sums) and the example count `n` are summed with ONE all_reduce, then read back in the
    one host transfer. Entries after `summed` (the gradient norm: equal in every process once DDP
    has averaged the gradients) are this process's own."""
    head = torch.cat([packed[:summed], packed.new_full((1,), float(n))])
    dist.all_reduce(head)
    values = torch.cat([head, packed[summed:]]).tolist()
    total = int(round(values.pop(summed)))
    return values, total


def sum_(tensor: torch.Tensor) -> torch.Tensor:
    """`tensor` summed over all processes (in place; returned)."""
    dist.all_reduce(tensor)
    return tensor


def gather(obj: T) -> list[T]:
    """`obj` of every process, in rank order, on every process (picklable objects)."""
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def gather_to_main(obj: T) -> list[T] | None:
    """`obj` of every process, in rank order, on rank 0 (None on the others)."""
    main = dist.get_rank() == 0
    out: list[Any] | None = [None] * dist.get_world_size() if main else None
    dist.gather_object(obj, out, dst=0)
    return out


def from_main(procs: Processes | None, fn: Callable[[], T]) -> T:
    """`fn()` run by rank 0 alone and its result sent to every process; a UserError it raises is
    raised in every process (so no process waits for a peer that stopped). One process: `fn()`."""
    if procs is None:
        return fn()
    box: list[Any] = [None]
    if procs.is_main:
        try:
            box[0] = ("ok", fn())
        except UserError as exc:
            box[0] = ("error", str(exc))
            dist.broadcast_object_list(box, src=0)
            raise
    dist.broadcast_object_list(box, src=0)
    status, value = box[0]
    if status == "error":
        raise UserError(f"rank 0 stopped the run: {value}")
    return value


@torch.no_grad()
def broadcast_buffers(model: nn.Module) -> None:
    """Rank 0's buffers (BatchNorm running statistics) copied into every process's model: one
    broadcast per dtype and device. Nothing to do for a model without buffers."""
    groups: dict[tuple[torch.dtype, torch.device], list[torch.Tensor]] = {}
    for buffer in model.buffers():
        groups.setdefault((buffer.dtype, buffer.device), []).append(buffer)
    for buffers in groups.values():
        flat = torch.cat([b.reshape(-1) for b in buffers])
        dist.broadcast(flat, src=0)
        for buffer, part in zip(buffers, torch.split(flat, [b.numel() for b in buffers])):
            buffer.copy_(part.view_as(buffer))


# ---------------------------------------------------------------------- the Trainer's parts
def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """`model` in torch's DistributedDataParallel (its gradients averaged over the processes in
    backward). The Trainer trains through the wrapper and keeps `model` itself for everything else
    (state dicts, evaluation, callbacks), so checkpoints have the same keys with any number of processes."""
    from torch.nn.parallel import DistributedDataParallel

    if not any(p.requires_grad for p in model.parameters()):
        raise UserError("a data-parallel run needs a model with trainable parameters (every requires_grad is False)")
    ids = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def sync_batchnorm(model: nn.Module) -> nn.Module:
    """Every BatchNorm of `model` made to normalize over the global batch of a data-parallel run:
    torch's `nn.SyncBatchNorm` on CUDA, trainwell's `SyncBatchNorm` (gloo) on the CPU — torch's
    refuses CPU tensors. The same parameters and buffers (same state-dict keys): a checkpoint
    loads into the plain model. Outside a data-parallel run the model is returned unchanged."""
    if current() is None:
        return model
    first = next(iter(model.parameters()), None)
    if first is not None and first.device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    from trainwell.train.sync_batchnorm import convert_sync_batchnorm

    return convert_sync_batchnorm(model)


def check_sharded(source: Any, procs: Processes) -> None:
    """A UserError unless the batch source serves this process's share of the data."""
    got = getattr(source, "shard", None)
    if got != procs.shard:
        raise UserError(
            f"this is process {procs.rank} of {procs.world_size} of a data-parallel run, but its batch source "
            f"({type(source).__name__}) is {'not sharded' if got in (None, (0, 1)) else f'sharded as {got}'}; "
            f"build it with trainwell.data.adapt.as_source(..., shard={procs.shard}) (tensors or a Dataset), "
            "or give a DataLoader with a torch DistributedSampler")


def shard_val(val: Any, procs: Processes,
              device: torch.device) -> tuple[Any, Callable[[torch.Tensor], torch.Tensor] | None]:
    """(this process's contiguous share of the validation data, the reduction of its sums).

    (x, y) tensors or arrays and map-style Datasets are split in N contiguous parts (every example
    scored once); their sums are reduced with `sum_`. A DataLoader (its own order, sampler and
    workers) is scored whole by every process: the same numbers everywhere, nothing to reduce."""
    from torch.utils.data import DataLoader, Dataset, IterableDataset, Subset

    from trainwell.data.adapt import xy_tensors

    if val is None:
        return None, None
    r, w = procs.shard
    if isinstance(val, (tuple, list)) and len(val) == 2 and not isinstance(val, Dataset):
        pair = tuple(val) if isinstance(val[0], torch.Tensor) else xy_tensors(val, "val")
        if pair is not None:
            x, y = pair if isinstance(val[0], torch.Tensor) else (pair[0].to(device), pair[1].to(device))
            n = len(x)
            if n == 0:
                return (x, y), None
            lo, hi = n * r // w, n * (r + 1) // w
            return (x[lo:hi], y[lo:hi]), sum_
    if isinstance(val, (DataLoader, IterableDataset)):
        return val, None
    if isinstance(val, Dataset) or (hasattr(val, "__getitem__") and hasattr(val, "__len__")
                                    and not isinstance(val, (tuple, list, str, bytes, dict))):
        n = len(val)
        return Subset(val, range(n * r // w, n * (r + 1) // w)), sum_
    return val, None


def rank_rng(ckpt: dict[str, Any], rank: int) -> dict[str, Any] | None:
    """The random-generator states process `rank` resumes from: its own when the checkpoint has
    them, rank 0's "rng" for rank 0, else None (a process the saved run did not have keeps its
    fresh, seeded streams)."""
    ranks = ckpt.get("rng_ranks")
    if ranks and rank < len(ranks):
        return ranks[rank]
    return ckpt["rng"] if rank == 0 else None


__all__ = ["DEFAULT_TIMEOUT_S", "Processes", "RANK_SEED_STRIDE", "broadcast_buffers", "check_sharded", "current",
           "from_main", "gather", "gather_to_main", "init_from_env", "joined", "launched", "local_device", "rank_rng", "rank_seed",
           "shard", "shard_val", "sum_", "sum_window", "sync_batchnorm", "timeout", "wrap"]
