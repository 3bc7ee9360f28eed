"""Flush subnormal floats to zero while a CPU training run lasts, and restore the mode after.

Subnormal ("denormal") float32 numbers, 0 < |x| < 1.18e-38, are handled by a slow microcode path
on x86 CPUs: an operation that meets one costs tens to hundreds of times a normal one. Long runs
produce them: in the MNIST-1D search (32 trials × 2000 steps, lr up to 0.1, weight decay up to
0.1) the trials with dead units end with ~9% of all weights, gradients and Adam first moments
subnormal (tiny weights under weight decay, their tiny gradients λθ), and the vectorized step
went from 5.2 to 15.6 ms over the run; flushing them (FTZ/DAZ: treat and produce them as 0)
kept it at ~5.2 ms — 17.8 s vs 12.5 s CPU for the whole run (1 thread, one run each on a loaded
machine). `train_many` runs its CPU loop inside `flushing_denormals()`. The numbers changed
are below 1.18e-38 in magnitude; results elsewhere are unchanged.

The mode is per thread and torch has no getter, so `flush_denormal_enabled` probes it
(``1e-39 * 1`` is 0 only when flushing); `flushing_denormals()` sets it for its block and then
puts back what it found. `torch.set_flush_denormal` acts on the calling thread (with more than
one intra-op thread the others keep their mode; the benchmarks run one thread).

Example:
    >>> before = flush_denormal_enabled()
    >>> with flushing_denormals():
    ...     torch.tensor([1e-39]).mul(1.0).item()
    0.0
    >>> flush_denormal_enabled() == before
    True
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


def flush_denormal_enabled() -> bool:
    """Whether this thread flushes subnormal floats to zero now (probed, see the module docstring)."""
    return torch.tensor([1e-39], dtype=torch.float32).mul(1.0).item() == 0.0


@contextmanager
def flushing_denormals(enabled: bool = True) -> Iterator[None]:
    """Flush subnormals in the block (when `enabled` and the CPU supports it); restore the mode after."""
    before = flush_denormal_enabled()
    if not enabled or before:
        yield
        return
    supported = torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if supported:
            torch.set_flush_denormal(False)
