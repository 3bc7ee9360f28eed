"""SWA: a uniform average of the weights over the last part of a run (Izmailov et al. 2018,
"Averaging Weights Leads to Wider Optima and Better Generalization"; Polyak & Juditsky 1992).

    θ_SWA = (1/n) Σ_{t ∈ S} θ_t,   S = the steps from ⌊start_fraction · T⌋ on (every `every`-th)

computed online as θ̄ ← θ̄ + (θ − θ̄)/(n + 1) (`WeightAverage(model, decay=None)`). The averaged
weights come with stale BatchNorm statistics, so they are re-estimated for the averaged weights
with one pass over the training data (`recompute_bn_stats`) before evaluating.

Example:
    >>> swa = SWACallback(start_fraction=0.75)
    >>> Trainer(model, loader, opt, 1000, callbacks=[swa]).fit()
    >>> averaged = swa.averaged_model(x_train)           # BN statistics recomputed
"""
from __future__ import annotations

import math
from typing import Any

from torch import nn

from trainwell.train.ema import WeightAverage, recompute_bn_stats
from trainwell.errors import UserError
from trainwell.train.callbacks import Callback
from trainwell.train.evaluate import evaluate
from trainwell.train.state import TrainState


class SWACallback(Callback):
    """Uniform average of the weights after every `every`-th step from ``⌊start_fraction·T⌋`` on.

    The first averaged weights are those after optimizer step number ``start`` (0-based, so when
    ``state.step == start + 1``). `summary(data)` gives val/test accuracy of the averaged model.
    """

    order = 10

    def __init__(self, start_fraction: float = 0.75, every: int = 1):
        if not 0.0 <= start_fraction < 1.0:
            raise UserError(f"SWA start_fraction must be in [0, 1), got {start_fraction}")
        if every < 1:
            raise UserError(f"SWA every must be >= 1, got {every}")
        self.start_fraction = start_fraction
        self.every = every
        self.start: int | None = None
        self.average: WeightAverage | None = None
        self.averaged_steps: list[int] = []
        self._pending: dict[str, Any] | None = None

    def on_fit_start(self, state: TrainState) -> None:
        self.start = math.floor(self.start_fraction * state.total_steps)
        if self.average is None:
            self.average = WeightAverage(state.model, decay=None)
        if self._pending:
            self.average.load_state_dict(self._pending["average"])
            self.averaged_steps = list(self._pending["steps"])
            self._pending = None

    def on_batch_end(self, state: TrainState) -> None:
        step = state.step - 1
        if step >= self.start and (step - self.start) % self.every == 0:
            self.average.update(state.model)
            self.averaged_steps.append(step)

    def averaged_model(self, x_train) -> nn.Module:
        if self.average is None or self.average.updates == 0:
            raise UserError("SWA has averaged no weights yet (the run ended before start_fraction of its steps)")
        return recompute_bn_stats(self.average.model, x_train)

    def state_dict(self) -> dict[str, Any]:
        if self.average is None:
            return {}
        return {"average": self.average.state_dict(), "steps": list(self.averaged_steps)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            self._pending = state

    def summary(self, data) -> dict[str, float]:
        model = self.averaged_model(data.x_train)
        return {
            "val_accuracy_swa": evaluate(model, data.x_val, data.y_val)["accuracy"],
            "test_accuracy_swa": evaluate(model, data.x_test, data.y_test)["accuracy"],
        }


__all__ = ["SWACallback"]
