"""Weight averaging during training: exponential moving average (EMA) and Polyak/SWA averages.

EMA (Polyak & Juditsky 1992; as used by e.g. Tan & Le 2019):
    θ̄ ← d_t·θ̄ + (1 − d_t)·θ   after every optimizer step, with d_t = min(decay, (1 + t)/(10 + t))
so early averages are not dominated by the random initialisation.
Polyak/SWA averaging (Izmailov et al. 2018) is the plain mean of the weights from a start step on:
    θ̄ ← θ̄ + (θ − θ̄)/(n + 1).
Averaged weights come with stale BatchNorm statistics; `recompute_bn_stats` re-estimates them with
one pass over training data (cumulative average, momentum=None) for the averaged weights.
"""
from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from trainwell.nn.kinds import batchnorms
from trainwell.train.callbacks import Callback
from trainwell.train.evaluate import evaluate
from trainwell.train.state import TrainState

class WeightAverage:
    """A copy of `model` whose floating-point parameters are averaged (EMA or uniform)."""

    def __init__(self, model: nn.Module, decay: float | None = 0.999):
        if decay is not None and not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.model = copy.deepcopy(model)
        self.model.requires_grad_(False)
        self.updates = 0
        self._src = [p for p in model.parameters()]
        self._dst = [p for p in self.model.parameters()]

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One averaging step from the current weights of `model` (the one given at construction)."""
        t = self.updates
        weight = 1.0 - min(self.decay, (1 + t) / (10 + t)) if self.decay is not None else 1.0 / (t + 1)
        torch._foreach_lerp_(self._dst, self._src, weight)
        for dst, src in zip(self.model.buffers(), model.buffers()):
            dst.copy_(src)
        self.updates += 1

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.updates = int(state["updates"])


@torch.no_grad()
def recompute_bn_stats(model: nn.Module, x: torch.Tensor, batch_size: int = 256) -> nn.Module:
    """Re-estimate every BatchNorm's running mean/var on `x` for the model's current weights."""
    norms = [m for _, m in batchnorms(model)]
    if not norms:
        return model
    saved = [(m.momentum, m.training) for m in norms]
    was_training = model.training
    model.train()
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over the pass
    for i in range(0, len(x) - batch_size + 1 if len(x) >= batch_size else 1, batch_size):
        model(x[i : i + batch_size])
    for m, (momentum, _) in zip(norms, saved):
        m.momentum = momentum
    model.train(was_training)
    return model


class EMACallback(Callback):
    """Keep an EMA of the weights; at the end evaluate it beside the raw weights.

    `summary(data)` returns val/test accuracy of the averaged model (BatchNorm statistics
    recomputed on the training set for the averaged weights).
    """

    order = 10

    def __init__(self, decay: float = 0.999, every: int = 1):
        self.decay = decay
        self.every = every
        self.average: WeightAverage | None = None

    def on_fit_start(self, state: TrainState) -> None:
        if self.average is None:
            self.average = WeightAverage(state.model, self.decay)
        pending = getattr(self, "_pending", None)
        if pending:
            self.average.load_state_dict(pending)
            self._pending = None

    def on_batch_end(self, state: TrainState) -> None:
        if state.step % self.every == 0:
            self.average.update(state.model)

    def state_dict(self) -> dict[str, Any]:
        return self.average.state_dict() if self.average is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state and self.average is not None:
            self.average.load_state_dict(state)
        elif state:
            self._pending = state

    def averaged_model(self, x_train: torch.Tensor) -> nn.Module:
        return recompute_bn_stats(self.average.model, x_train)

    def summary(self, data) -> dict[str, float]:
        model = self.averaged_model(data.x_train)
        return {
            "val_accuracy_ema": evaluate(model, data.x_val, data.y_val)["accuracy"],
            "test_accuracy_ema": evaluate(model, data.x_test, data.y_test)["accuracy"],
        }
