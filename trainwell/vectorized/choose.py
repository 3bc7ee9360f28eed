"""`choose_engine`: train K same-architecture trials as ONE batched model, or one by one?

The decision is a fixed rule over (model, K, device) — no timed probe: the rule below decides
every case, so it is cheap (it compiles the engine plan, well under a millisecond for the
recipes' models) and the same inputs always give the same answer.

1. K < 2: one by one (nothing to batch; the Trainer also writes the run's files).
2. A module with buffers (BatchNorm's running statistics...): one by one (`train_many` refuses it).
3. CUDA: vectorize, with the first engine that applies ("mlp", "batched", "vmap"). Small models
   leave a GPU idle between kernel launches; K models in one launch amortize them. (Not measured
   in this project — no GPU was available; this follows the launch-bound argument.)
4. CPU, no convolution: vectorize (the "mlp" engine, or "vmap" for e.g. a LayerNorm MLP).
   Vectorizing wins on a CPU by sharing the per-step overhead (Python, small kernels, the
   optimizer's passes) across K trials, and bmm runs K matmuls as efficiently as one.
5. CPU, convolutions: vectorize with the "batched" engine when K >= `CPU_CONV_MIN_K` (16), else
   one by one (also one by one when only "vmap" applies: not measured for ConvNets). A
   convolution is compute-bound: a grouped convolution over K·C channels does the same work at
   about the same speed as K small ones (profiled, the ensemble ConvNet: ~9.6 vs ~8.7
   multiply-adds per ns for K = 8 vs one member), so only the per-step overhead is shared. That
   pays from K = 16, trained as lockstep groups of 8 (`group.py`): 1.15–1.30× at K = 32 in 3 of 3
   runs since the groups, 1.22× at K = 16, the 2-D digits ConvNet 1.12× at K = 32; below, it is
   a tie (K = 8: 0.99–1.21× and 1.00×; the digits ConvNet at K = 2: 0.95×), and a tie goes to
   the Trainer, which also writes each run's files.
6. Any other device: one by one (not measured; one by one is never slower than itself).

Measured (bench/bench_vectorized.py; speedup = one-by-one time / vectorized time, the Trainer
vs `train_many` on the same trials, wall clock [CPU seconds], median of 2–3 interleaved
repeats, 100–300 steps with the recipes' evaluations; torch 2.13, 1 thread, a 2-core machine
shared with other jobs, so ±10–20%):

    model (MNIST-1D unless noted)      engine    K=1          K=2          K=8          K=32
    paper MLP 100-100, batch 100       mlp       1.68 [1.66]  2.81 [2.62]  4.90 [4.75]  5.77 [5.22]
    MLP 512-512, batch 100             mlp       1.20 [1.27]  1.51 [1.62]  1.27 [1.35]  1.50 [1.39]
    paper MLP, batch 1000              mlp       1.67 [1.64]  1.92 [1.75]  2.11 [1.96]  1.60 [1.42]
    paper MLP + LayerNorm, batch 100   vmap      0.96 [0.85]  1.45 [1.28]  2.63 [2.61]  2.82 [2.82]
    ensemble 1-D ConvNet, batch 128    batched   0.97 [0.93]  1.03–1.28    0.99–1.21    0.94–1.30
    digits 2-D ConvNet 32-64-128, b 64 batched        —       0.95 [0.95]  1.15 [1.03]  1.12 [1.02]

(K = 4 and 16 in bench/results/vectorized.json agree; the ConvNet ranges span two runs, one
before (0.94 at K = 32) and one after (1.30) ConvNets train in groups of 8, `group.py`.) Since,
the ensemble ConvNet at K = 32 (bench/bench_ensemble.py --members 32 --epochs 2 --repeats 5 --ks,
taskset -c 1): **1.15×** [quartiles of the 5 per-repeat ratios 1.08–1.21]; at 56 steps, median
of 3: K = 8 1.00×, K = 32 1.21×. The paper-MLP search at N = 32 × 2000 steps
(bench/bench_search_vectorized.py --reps 5 --ks): **6.00×** [4.12–6.34]. `batch_size` is recorded in the
reason; the rule does not depend on it: the MLP speedups at batch 100 and 1000 both exceed 1.4.

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
from trainwell.vectorized.group import has_conv
from trainwell.vectorized.mlp_engine import compile_mlp

ONE_BY_ONE = "trainer"
CPU_CONV_MIN_K = 16  # from this K a ConvNet vectorizes on a CPU (rule 5 of the module docstring)


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
        if has_conv(model):
            if engine == "batched" and k >= CPU_CONV_MIN_K:
                return Choice(True, engine, f"{what}: a ConvNet on a CPU with K >= {CPU_CONV_MIN_K} (batched engine in "
                                            "groups of 8 measured 1.12-1.30x faster than one by one at K = 16-32)")
            if engine != "batched":
                return Choice(False, ONE_BY_ONE, f"{what}: a ConvNet on a CPU that only the vmap engine runs "
                                                 "(not measured faster than one by one)")
            return Choice(False, ONE_BY_ONE, f"{what}: a ConvNet on a CPU with K < {CPU_CONV_MIN_K} (batched engine "
                                             "measured 0.95-1.21x one-by-one training: no reliable gain)")
        return Choice(True, engine, f"{what}: a net without convolutions on a CPU ({engine} engine measured "
                                    "1.3-6.0x faster than one by one at K >= 2)")
    return Choice(False, ONE_BY_ONE, f"{what}: vectorizing was not measured on {device.type}; one by one is the safe side")
