"""Synthetic objectives: instant, exactly known, for tests and for the random-vs-grid experiment.

`one_matters(params)` — the situation of Bergstra & Bengio (2012, fig. 1): of two hyperparameters
only one matters. With u = log10(optim.lr) on [−4, −1] and the other, ``optim.weight_decay``,
ignored,

    f = 0.9 · exp(−(u − u*)² / (2 · 0.15²)),   u* = −2.37

a narrow peak between grid lines (a 4×4 log grid tries u ∈ {−4, −3, −2, −1}). A grid of m×m
points tries only m distinct learning rates; random search with the same m² trials tries m²
of them, so it lands closer to the peak.

`SyntheticObjective` wraps such a function as a search objective (picklable, optional sleep to
stand in for training time, optional failure on a condition) — what the worker tests use.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Any

PEAK = -2.37
WIDTH = 0.15


def one_matters(params: dict[str, Any]) -> float:
    u = math.log10(params["optim.lr"])
    return 0.9 * math.exp(-((u - PEAK) ** 2) / (2 * WIDTH**2))


def bowl(params: dict[str, Any]) -> float:
    """Both matter: a peak at lr = 10^-2.5, weight_decay = 10^-4 (log10 coordinates), width 0.5."""
    u, v = math.log10(params["optim.lr"]), math.log10(params["optim.weight_decay"])
    return 0.9 * math.exp(-((u + 2.5) ** 2 + (v + 4.0) ** 2) / (2 * 0.5**2))


FUNCTIONS = {"one_matters": one_matters, "bowl": bowl}


@dataclass
class SyntheticObjective:
    """A search objective over a named synthetic function.

    sleep: seconds each trial waits (a stand-in for training, for timing tests).
    fail_above_lr: trials with optim.lr above it raise (to test FAIL recording).
    nan_above_lr: trials with optim.lr above it return NaN (diverged).
    """

    function: str = "one_matters"
    sleep: float = 0.0
    fail_above_lr: float | None = None
    nan_above_lr: float | None = None
    busy: bool = False

    def __call__(self, spec) -> dict[str, Any]:
        lr = spec.params.get("optim.lr", 0.0)
        if self.fail_above_lr is not None and lr > self.fail_above_lr:
            raise RuntimeError(f"synthetic crash at lr={lr:.3g}")
        if self.sleep:
            if self.busy:  # burn one core (like a training step) instead of sleeping
                end = time.perf_counter() + self.sleep
                x = 0.0
                while time.perf_counter() < end:
                    x += math.sin(x)
            else:
                time.sleep(self.sleep)
        value = FUNCTIONS[self.function](spec.params)
        if self.nan_above_lr is not None and lr > self.nan_above_lr:
            value = float("nan")
        return {"value": value, "pid": os.getpid(), "engine": "synthetic"}
