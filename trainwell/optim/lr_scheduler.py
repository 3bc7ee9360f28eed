"""LRScheduler: the one object that writes learning rates into an optimizer.

A schedule is a pure function (see `schedules.py`); this object only evaluates it and writes

    group["lr"] = base_lr * schedule(step, total_steps) * group["lr_scale"]

into every param group (``lr_scale`` defaults to 1.0 for groups that lack it, e.g. an optimizer
built without `build_optimizer`). It keeps no other state than the last step it set, so resuming
is exact: `state_dict()` / `load_state_dict()` carry that position.

Usage (call `set` BEFORE each optimizer step, with the number of steps already taken):

    sched = LRScheduler(opt, build_schedule("cosine"), base_lr=0.1, total_steps=1000)
    for step in range(1000):
            lr = sched.set(step)
            loss = ...; loss.backward(); opt.step(); opt.zero_grad()
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from trainwell.errors import UserError
from trainwell.optim.checks import check_float, check_int
from trainwell.optim.registry import build_schedule
from trainwell.optim.schedules import Schedule, check_position
from trainwell.registry import Spec


class LRScheduler:
    """Write ``base_lr * schedule(step, total_steps) * lr_scale`` into each param group.

    Args:
        optimizer: any torch.optim.Optimizer; groups may carry "lr_scale" (default 1.0).
        schedule: a Schedule, or a spec for `build_schedule` ("cosine", {"name": "step", ...}).
        base_lr: the learning rate a factor of 1 stands for (the peak LR for onecycle/cyclic).
        total_steps: the number of optimizer steps in the run (>= 1).
    """

    def __init__(
        self, optimizer: torch.optim.Optimizer, schedule: Schedule | Spec, base_lr: float, total_steps: int
    ):
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise UserError(f"LRScheduler expects a torch.optim.Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.schedule = build_schedule(schedule)
        self.base_lr = check_float(base_lr, "base_lr", 0.0, low_open=True)
        self.total_steps = check_int(total_steps, "total_steps", 1)
        self.schedule.check(self.total_steps)  # fail now, not in the middle of training
        for i, group in enumerate(optimizer.param_groups):
            check_float(group.get("lr_scale", 1.0), f"param group {i} ({group.get('name', 'unnamed')}): lr_scale", 0.0)
        self.step: int | None = None  # the last step set
        self.lr: float | None = None  # the unscaled lr of that step

    def factor(self, step: int) -> float:
        """The schedule's factor at `step` (touches nothing)."""
        return self.schedule(step, self.total_steps)

    def set(self, step: int) -> float:
        """Write the learning rates of optimizer step `step` (from 0); return the unscaled lr."""
        step, _ = check_position(step, self.total_steps, "LRScheduler.set")
        lr = self.base_lr * self.schedule(step, self.total_steps)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
        self.step, self.lr = step, lr
        return lr

    def state_dict(self) -> dict[str, Any]:
        """{"step", "base_lr", "total_steps", "schedule"}; plain values (weights_only-loadable)."""
        return {
            "step": self.step,
            "base_lr": self.base_lr,
            "total_steps": self.total_steps,
            "schedule": repr(self.schedule),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the position and write that step's learning rates again.

        The schedule itself comes from the recipe; a checkpoint made with a different schedule,
        base_lr or total_steps is refused (resuming it would silently change the LR curve).
        """
        if not isinstance(state, Mapping) or "step" not in state:
            raise UserError(f"LRScheduler.load_state_dict expects a dict with key 'step', got {state!r}")
        for key, mine in (("base_lr", self.base_lr), ("total_steps", self.total_steps),
                          ("schedule", repr(self.schedule))):
            if key in state and state[key] != mine:
                raise UserError(
                    f"LRScheduler checkpoint has {key}={state[key]!r} but this run has {key}={mine!r}; "
                    "resume with the recipe the checkpoint was made with"
                )
        step = state["step"]
        if step is None:
            self.step, self.lr = None, None
        else:
            self.set(step)

    def __repr__(self) -> str:
        return (
            f"LRScheduler({self.schedule!r}, base_lr={self.base_lr:g}, total_steps={self.total_steps}, "
            f"step={self.step})"
        )


__all__ = ["LRScheduler"]
