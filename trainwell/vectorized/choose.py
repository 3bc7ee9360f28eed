"""`choose_engine`: train K same-architecture trials as ONE batched model, or one by one?

The decision is a fixed rule over (model, K, device) — no timing, so it is cheap (it builds the
engine plan, ~0.1 ms for an MLP) and the same inputs always give the same answer:

1. K < 2: one by one (nothing to batch; the Trainer also writes the run's files).
2. A module with buffers (BatchNorm's running statistics...): one by one (`train_many` refuses it).
3. CUDA: vectorize, with the first engine that applies ("mlp", "batched", "vmap"). Small models
   leave a GPU idle between kernel launches; K models in one launch amortize the launches. (Not
   measured in this project: no GPU was available; this follows the launch-bound argument.)
4. CPU (1 thread, as a search worker runs; numbers from bench/bench_vectorized.py, table below):
   * "mlp" engine (Linear + activations + Dropout + Flatten): vectorize — faster than the Trainer
     at every measured K ≥ 2, width and batch size;
   * "batched" engine (convolutions, pooling): vectorize — faster at every measured K ≥ 2;
   * "vmap" engine (any other module, e.g. with LayerNorm): one by one — slower than the Trainer.
5. Any other device: one by one (not measured; training one by one is never slower than itself).

Speedup = one-by-one time / vectorized time (Trainer vs `train_many`, same trials, wall clock,
median of repeats, torch 2.13, 1 thread, a 2-core machine shared with other jobs):

    TABLE

`batch_size` is accepted for the callers' convenience and recorded in the reason; the rule does
not depend on it (the measured speedups at batch 100 and 1000 agree).

Example:
    >>> from torch import nn
    >>> choose_engine(nn.Sequential(nn.Linear(40, 100), nn.ReLU(), nn.Linear(100, 10)), 32, "cpu", 100).engine
    'mlp'
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from trainwell.errors import UserError
from trainwell.vectorized.batched_layers import compile_sequential
from trainwell.vectorized.checks import refuse_buffers
from trainwell.vectorized.mlp_engine import compile_mlp

# Engines that beat one-by-one training on a CPU (see the table in the module docstring).
CPU_VECTORIZE = ("mlp", "batched")
ONE_BY_ONE = "trainer"


@dataclass(frozen=True)
class Choice:
    """`vectorize`: train the K trials with `train_many` (engine `engine`) instead of one by one
    (`engine` is then "trainer"); `reason`: one sentence a person can check."""

    vectorize: bool
    engine: str
    reason: str


def vectorized_engine(model: nn.Module, k: int) -> str:
    """The engine ``train_many(engine="auto")`` would use for `model`: "mlp", "batched" or "vmap"."""
    ops = compile_sequential(model)
    if compile_mlp(ops, k) is not None:
        return "mlp"
    return "batched" if ops is not None else "vmap"


def choose_engine(model: nn.Module, k: int, device: torch.device | str, batch_size: int) -> Choice:
    """Vectorize K trials of `model` on `device`, or train them one by one (see the module docstring)."""
    device = torch.device(device)
    what = f"K = {k}, batch {batch_size}, {device.type}"
    if k < 2:
        return Choice(False, ONE_BY_ONE, f"{what}: one model, nothing to batch")
    try:
        refuse_buffers(model)
    except UserError as exc:
        return Choice(False, ONE_BY_ONE, f"{what}: {str(exc).split(';')[0]}")
    engine = vectorized_engine(model, k)
    if device.type == "cuda":
        return Choice(True, engine, f"{what}: on a GPU K models in one launch beat K launches ({engine} engine)")
    if device.type == "cpu":
        if engine in CPU_VECTORIZE:
            return Choice(True, engine, f"{what}: the {engine} engine beat one-by-one training on a CPU at every measured K >= 2")
        return Choice(False, ONE_BY_ONE, f"{what}: {type(model).__name__} needs the vmap engine, slower than one-by-one "
                                         "training on a CPU")
    return Choice(False, ONE_BY_ONE, f"{what}: vectorizing was not measured on {device.type}; one by one is the safe side")
