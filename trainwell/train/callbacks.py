"""Callbacks: ordered events with an explicit `TrainState`.

Events per fit, in order:
    on_fit_start
    per epoch:  on_epoch_start
        per step:  on_batch_start → forward/backward → on_after_backward → optimizer step
                   → on_batch_end (state.step already incremented)
        on_log(record) every `log_every` steps, after the one sync of the window
        on_eval_end(metrics) after each evaluation (every `eval_every` steps and at the end)
        on_epoch_end
    on_fit_end
    on_exception(exc)   instead of on_fit_end when fit raises (also KeyboardInterrupt); then it re-raises

Callbacks run in ascending `order`. Only the events a callback overrides are called, so an idle
callback costs nothing per step.
"""
from __future__ import annotations

from typing import Any

from trainwell.train.state import TrainState

EVENTS = (
    "on_fit_start",
    "on_epoch_start",
    "on_batch_start",
    "on_after_backward",
    "on_batch_end",
    "on_log",
    "on_eval_end",
    "on_epoch_end",
    "on_fit_end",
    "on_exception",
)


class Callback:
    """Base class: override the events you need. Set `order` to run earlier (lower) or later."""

    order: int = 0

    def on_fit_start(self, state: TrainState) -> None: ...
    def on_epoch_start(self, state: TrainState) -> None: ...
    def on_batch_start(self, state: TrainState) -> None: ...
    def on_after_backward(self, state: TrainState) -> None: ...
    def on_batch_end(self, state: TrainState) -> None: ...
    def on_log(self, state: TrainState, record: dict[str, Any]) -> None: ...
    def on_eval_end(self, state: TrainState, metrics: dict[str, Any]) -> None: ...
    def on_epoch_end(self, state: TrainState) -> None: ...
    def on_fit_end(self, state: TrainState) -> None: ...
    def on_exception(self, state: TrainState, exc: BaseException) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        """Saved in checkpoints (plain data and tensors only)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class Dispatcher:
    """Calls each event on the callbacks that override it, in order."""

    def __init__(self, callbacks: list[Callback]):
        self.callbacks = sorted(callbacks, key=lambda c: c.order)
        self.handlers = {
            event: [getattr(c, event) for c in self.callbacks if getattr(type(c), event) is not getattr(Callback, event)]
            for event in EVENTS
        }

    def __call__(self, event: str, state: TrainState, *args: Any) -> None:
        for handler in self.handlers[event]:
            handler(state, *args)

    def has(self, event: str) -> bool:
        return bool(self.handlers[event])
