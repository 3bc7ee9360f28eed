"""Synthetic objectives: instant, exactly known, for tests and for the random-vs-grid experiment.

`one_matters(params)` — the situation of Bergstra & Bengio (2012, fig. 1): of two hyperparameters
only one matters. With u = log10(optim.lr) on [−4, −1] and the other, ``optim.weight_decay``,
ignored,

    f = 0.9 · exp(−(u − u*)² / (2 · 0.15²)),   u* = −2.37

a narrow peak between grid lines (a 4×4 log grid tries u ∈ {−4, −3, −2, −1}). A grid of m×m
points tries only m distinct learning rates; random search with the same m² trials tries m²
of them, so it lands closer to the peak.

`SyntheticObjective` wraps such a function as a search objective (picklable, optional sleep to
stand in for training time, optional failure on a condition; like a real trial it creates its run
folder and writes ``params.json`` there when it starts) — what the worker tests use. With
``curve = True`` it also plays a training run for pruning: `evals` evaluations over the trial's
budget, the figure at step t being ``f · (1 − exp(−3t/T))`` (every trial learns at the same pace,
so a trial behind at step t ends behind), fed to the same `PruningCallback` as a real run; a
pruned trial returns after the step it was stopped at.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from types import SimpleNamespace
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
    curve: play a learning curve of `evals` evaluations through the trial's pruning (module docstring).
    """

    function: str = "one_matters"
    sleep: float = 0.0
    fail_above_lr: float | None = None
    nan_above_lr: float | None = None
    busy: bool = False
    curve: bool = False
    evals: int = 10

    def _wait(self, seconds: float) -> None:
        if self.busy:  # burn one core (like a training step) instead of sleeping
            end = time.perf_counter() + seconds
            x = 0.0
            while time.perf_counter() < end:
                x += math.sin(x)
        elif seconds:
            time.sleep(seconds)

    def __call__(self, spec) -> dict[str, Any]:
        lr = spec.params.get("optim.lr", 0.0)
        if getattr(spec, "run_dir", None) is not None:  # like a real trial: its folder exists while it runs
            spec.run_dir.mkdir(parents=True, exist_ok=True)
            (spec.run_dir / "params.json").write_text(json.dumps(spec.params))
        if self.fail_above_lr is not None and lr > self.fail_above_lr:
            raise RuntimeError(f"synthetic crash at lr={lr:.3g}")
        final = FUNCTIONS[self.function](spec.params)
        total = spec.steps or 100
        out: dict[str, Any] = {"pid": os.getpid(), "engine": "synthetic", "steps_run": total, "steps_budget": total}
        if self.curve and spec.pruning is not None:
            from trainwell.search.prune_callback import PruningCallback

            callback = PruningCallback(spec.pruning)
            state = SimpleNamespace(step=0, total_steps=total, stop=False, stop_reason="")
            for i in range(1, self.evals + 1):
                self._wait(self.sleep / self.evals)
                state.step = round(i * total / self.evals)
                value = final * (1 - math.exp(-3 * state.step / total))
                callback.on_eval_end(state, {"split": "val", "step": state.step, "accuracy": value})
                if state.stop:
                    return {**out, "value": value, "steps_run": state.step, "pruned": spec.pruning.verdict}
        else:
            self._wait(self.sleep)
        value = final
        if self.nan_above_lr is not None and lr > self.nan_above_lr:
            value = float("nan")
        return {**out, "value": value}
