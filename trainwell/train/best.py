"""`BestWeights`: keep the weights of the best validation evaluation (the test figure's default).

On each evaluation that improves the monitored validation figure (`TrainState.improves`: accuracy
up, or the loss down for regression), the model's weights are kept: written atomically to
`path` as a weights-only file (loadable with ``torch.load(weights_only=True)``) when a path is
given — so a killed run keeps them — or cloned in memory otherwise. `weights()` returns them.

File format ("trainwell-model-1"): {"format", "model": state_dict, "step", "which": "best", **meta}
where `meta` holds what rebuilds and uses the model (config, preprocessing, input shape, classes).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from trainwell.train.callbacks import Callback
from trainwell.train.state import TrainState

MODEL_FORMAT = "trainwell-model-1"


def weights_payload(model: torch.nn.Module, which: str, step: int, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """A weights-only file's payload: the state dict (detached, on the CPU) and plain metadata."""
    state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    return {"format": MODEL_FORMAT, "model": state, "which": which, "step": step, **(meta or {})}


class BestWeights(Callback):
    """Keep the best weights on validation (see the module docstring)."""

    order = 50

    def __init__(self, path: str | Path | None = None, meta: dict[str, Any] | None = None):
        self.path = Path(path) if path is not None else None
        self.meta = meta or {}
        self.best: dict[str, torch.Tensor] | None = None
        self.step = -1

    def on_eval_end(self, state: TrainState, metrics: dict[str, Any]) -> None:
        if state.best_step != state.step or self.step == state.step:
            return
        self.step = state.step
        if self.path is not None:
            from trainwell.io import atomic_torch_save

            atomic_torch_save(self.path, weights_payload(state.model, "best", state.step, self.meta))
        else:
            self.best = {k: v.detach().clone() for k, v in state.model.state_dict().items()}

    def weights(self) -> dict[str, torch.Tensor] | None:
        """The best state dict, or None when no evaluation improved (no validation data)."""
        if self.best is not None:
            return self.best
        if self.path is not None and self.path.exists():
            from trainwell.train.checkpoint import safe_load

            return safe_load(self.path, "cpu", "weights file")["model"]
        return None

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state.get("step", -1))


__all__ = ["BestWeights", "MODEL_FORMAT", "weights_payload"]
