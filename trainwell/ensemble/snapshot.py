"""Snapshot ensembles (Huang et al. 2017, "Snapshot Ensembles: Train 1, get M for free").

One run with a cyclic cosine schedule with warm restarts (SGDR, `trainwell.optim.CosineRestarts`):
within each cycle the LR anneals to its minimum and the model settles into a local minimum; the
restart kicks it out towards another one. Saving the weights at the END of every cycle (where
the LR is lowest) gives M different models for the price of one run; their softmax
probabilities are averaged like an independent ensemble's (`Ensemble`).

`SnapshotCallback(steps)` copies ``model.state_dict()`` after the optimizer step with each
number in `steps` (steps count from 0, so after step e the trainer has done e + 1 steps);
`snapshot_steps(schedule, total_steps)` gives the cycle ends. Snapshots live on the CPU and go into
the trainer's checkpoints, so a resumed run keeps the ones taken before the interruption.

Example:
    >>> sched = CosineRestarts(cycles=5)
    >>> snap = SnapshotCallback(snapshot_steps(sched, total_steps=1000))   # [199, 399, ..., 999]
    >>> Trainer(model, loader, opt, 1000, lr_scheduler=LRScheduler(opt, sched, 0.1, 1000), callbacks=[snap]).fit()
    >>> ens = Ensemble(snap.models(model))
"""
from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from trainwell.errors import UserError
from trainwell.train.callbacks import Callback
from trainwell.train.state import TrainState


def snapshot_steps(schedule: Any, total_steps: int, keep_last: int | None = None) -> list[int]:
    """Cycle-end step numbers of a cyclic schedule (its ``cycle_ends(T)``), the last `keep_last`."""
    ends = getattr(schedule, "cycle_ends", None)
    if not callable(ends):
        raise UserError(
            f"a snapshot ensemble needs a cyclic schedule with restarts (schedule.name = \"cosine_restarts\"), "
            f"got {schedule!r}"
        )
    steps = list(ends(total_steps))
    if keep_last is not None:
        if keep_last < 1:
            raise UserError(f"keep_last must be >= 1, got {keep_last}")
        steps = steps[-keep_last:]
    return steps


class SnapshotCallback(Callback):
    """Copy the model's state_dict after each optimizer step listed in `steps` (0-based)."""

    order = 20

    def __init__(self, steps: Sequence[int]):
        self.steps = sorted({int(s) for s in steps})
        if not self.steps or self.steps[0] < 0:
            raise UserError(f"snapshot steps must be a non-empty list of step numbers >= 0, got {list(steps)}")
        self._due = set(self.steps)
        self.snapshots: list[dict[str, torch.Tensor]] = []
        self.taken_at: list[int] = []

    def on_batch_end(self, state: TrainState) -> None:
        step = state.step - 1  # the number of the optimizer step just taken
        if step in self._due and step not in self.taken_at:
            self.snapshots.append({k: v.detach().to("cpu", copy=True) for k, v in state.model.state_dict().items()})
            self.taken_at.append(step)

    def models(self, template: nn.Module) -> list[nn.Module]:
        """One copy of `template` per snapshot, loaded with its weights, in eval mode."""
        out = []
        device = next(template.parameters()).device
        for snap in self.snapshots:
            m = copy.deepcopy(template)
            m.load_state_dict(snap)
            out.append(m.to(device).eval())
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"snapshots": self.snapshots, "taken_at": list(self.taken_at)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            self.snapshots = list(state["snapshots"])
            self.taken_at = [int(s) for s in state["taken_at"]]


__all__ = ["SnapshotCallback", "snapshot_steps"]
