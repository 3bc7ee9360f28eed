"""A rich progress bar: epoch, loss, accuracy, validation accuracy and throughput."""
from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Column
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from trainwell.train.callbacks import Callback
from trainwell.train.state import TrainState


class ProgressBar(Callback):
    """Updated at each log point (no extra syncs): step m/n, epoch, loss, acc, val acc, steps/s."""

    order = 100

    def __init__(self, description: str = "train", console: Console | None = None):
        self.description = description
        self.console = console or Console(stderr=True)
        self.progress: Progress | None = None
        self.task = None

    def on_fit_start(self, state: TrainState) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=20),
            MofNCompleteColumn(table_column=Column(no_wrap=True, min_width=9)),
            TimeElapsedColumn(table_column=Column(no_wrap=True, min_width=7)),
            TextColumn("{task.fields[info]}", table_column=Column(overflow="ellipsis", no_wrap=True)),
            console=self.console,
            transient=False,
        )
        self.progress.start()
        self.task = self.progress.add_task(self.description, total=state.total_steps, completed=state.step, info="")

    def _info(self, state: TrainState) -> str:
        m = state.metrics
        parts = [f"epoch {state.step / max(state.steps_per_epoch, 1):.1f}"]
        if "loss" in m:
            parts.append(f"loss {m['loss']:.4f}")
        if "accuracy" in m:
            parts.append(f"acc {m['accuracy']:.3f}")
        if "val_accuracy" in m:
            parts.append(f"val {m['val_accuracy']:.3f}")
        if "steps_per_s" in m:
            parts.append(f"{m['steps_per_s']:.0f} it/s")
        return " · ".join(parts)

    def on_log(self, state: TrainState, record: dict[str, Any]) -> None:
        self.progress.update(self.task, completed=state.step, info=self._info(state))

    def on_eval_end(self, state: TrainState, metrics: dict[str, Any]) -> None:
        self.progress.update(self.task, completed=state.step, info=self._info(state))

    def on_fit_end(self, state: TrainState) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=state.step, info=self._info(state))
            self.progress.stop()
