"""`Logger`: the base of the loggers — events, folder, per-layer statistics, histograms, decided once.

A logger is a `Callback` that republishes the trainer's plain records; it overrides only
``on_fit_start``, ``on_log``, ``on_eval_end`` and ``on_fit_end``, so it adds no work and no
device→host sync to a training step (the trainer calls only the events a callback overrides).

    on_fit_start  find the folder, open the logger, weight histograms at step 0 (if wanted)
    on_log        new per-layer statistics records; the training record (loss, task metrics, lr,
                  grad_norm, throughput) as split "train"; weight histograms every `histograms_every` steps
    on_eval_end   new statistics records; the validation figures as split "val"; weight histograms
                  at each evaluation when `histograms_every` is None; flush
    on_fit_end    the last statistics records; close

Per-layer statistics come from a `StatsCallback` running in the same fit (its records, read with
`RecordTail` from the stream `stats_stream`): they are logged when one runs, and cost nothing
otherwise. A subclass implements `open`, `write(split, step, epoch, values)`, `close`, and —
for histograms (TensorBoard) — `write_histograms` with `wants_histograms = True`.

Where files go: the folder given (`dir`), else the run directory (`subfolder` inside it, e.g.
tensorboard/). With neither, a logger raises `UserError` at the start of `fit`, except one built
from a recipe (`only_with_run_dir=True`): that one logs runs that have a run directory and stays
silent in the others (the doctor's and the LR finder's short runs). Under torch.distributed only
rank 0 logs.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from trainwell.errors import UserError
from trainwell.train.callbacks import Callback
from trainwell.train.loggers.histograms import Histogram, activation_histograms, weight_histograms
from trainwell.train.loggers.scalars import record_values, stats_split, stats_values
from trainwell.train.loggers.tail import RecordTail


def _rank_zero() -> bool:
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


class Logger(Callback):
    """Base class (see the module docstring). Runs after `StatsCallback` (order 50)."""

    order = 80
    subfolder = ""            # inside the run directory
    wants_histograms = False  # does `write_histograms` do anything?
    needs_folder = True

    def __init__(self, dir: str | Path | None = None, *, histograms_every: int | None = None, bins: int = 30,
                 stats_stream: str = "stats", only_with_run_dir: bool = False):
        if histograms_every is not None and histograms_every < 0:
            raise UserError(f"{type(self).__name__}: histograms_every must be ≥ 0 (0: no histograms), "
                            f"found {histograms_every}")
        if bins < 1:
            raise UserError(f"{type(self).__name__}: bins must be ≥ 1, found {bins}")
        self.dir = Path(dir) if dir is not None else None
        self.histograms_every = histograms_every
        self.bins = bins
        self.only_with_run_dir = only_with_run_dir
        self.folder: Path | None = None
        self.active = False
        self._tail = RecordTail(stats_stream)
        self._hist_block = 0
        self._hist_failed = False

    # ------------------------------------------------------------------ what a logger implements
    def open(self, state: Any, folder: Path | None) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def write(self, split: str, step: int, epoch: float | None, values: dict[str, float]) -> None:  # pragma: no cover
        raise NotImplementedError

    def write_histograms(self, step: int, group: str, histograms: list[Histogram]) -> None:
        """`group` is "weights" or "activations"."""

    def flush(self) -> None:
        """Make what was written visible to readers (called after each evaluation)."""

    def close(self, state: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------------ events
    def _folder(self, state: Any) -> Path | None:
        if self.dir is not None:
            return self.dir
        if state.run_dir is not None:
            return Path(state.run_dir) / self.subfolder if self.subfolder else Path(state.run_dir)
        if not self.needs_folder:
            return None
        name = type(self).__name__
        raise UserError(f"{name} has no folder to write to: give it one ({name}('logs/...')) or train with a run "
                        "directory (run_dir=...)")

    def on_fit_start(self, state: Any) -> None:
        if (self.only_with_run_dir and state.run_dir is None) or not _rank_zero():
            return
        self.folder = self._folder(state)
        self._tail.start(state)
        self.open(state, self.folder)
        self.active = True
        if self._histograms_on():
            self._hist_block = state.step // self.histograms_every if self.histograms_every else 0
            if state.step == 0:  # a resumed run logged its checkpoint step's histograms already
                self._weights(state)

    def on_log(self, state: Any, record: dict[str, Any]) -> None:
        if not self.active:
            return
        self._stats(state)  # captured on earlier steps: written first, so rows come in step order
        self.write(record.get("split", "train"), int(record["step"]), record.get("epoch"), record_values(record))
        every = self.histograms_every
        if self._histograms_on() and every and state.step // every > self._hist_block:
            self._hist_block = state.step // every
            self._weights(state)

    def on_eval_end(self, state: Any, metrics: dict[str, Any]) -> None:
        if not self.active:
            return
        self._stats(state)
        values = record_values(metrics)
        if values:  # an evaluation without validation data has no figures
            self.write(metrics.get("split", "val"), int(metrics["step"]), metrics.get("epoch"), values)
        if self._histograms_on() and self.histograms_every is None:
            self._weights(state)
        self.flush()

    def on_fit_end(self, state: Any) -> None:
        if not self.active:
            return
        self._stats(state)
        self.close(state)
        self.active = False

    def on_exception(self, state: Any, exc: BaseException) -> None:
        """fit raised (or was interrupted): write what was logged so far and close the files/run."""
        if not self.active:
            return
        self.interrupted = exc
        try:
            self._stats(state)
            self.close(state)
        finally:
            self.active = False

    # ------------------------------------------------------------------ helpers
    def _histograms_on(self) -> bool:
        return self.wants_histograms and self.histograms_every != 0 and not self._hist_failed

    def _stats(self, state: Any) -> None:
        for record in self._tail.new(state):
            if "step" not in record:
                continue
            step = int(record["step"])
            self.write(stats_split(record), step, record.get("epoch"), stats_values(record))
            if self.wants_histograms:
                self.write_histograms(step, "activations", activation_histograms(record))

    def _weights(self, state: Any) -> None:
        try:
            histograms = weight_histograms(state.model, self.bins)
        except RuntimeError as exc:  # NaN/inf weights (a diverged run): histc cannot bin them
            warnings.warn(f"{type(self).__name__}: no weight histograms from step {state.step} on "
                          f"({str(exc).splitlines()[0]})", stacklevel=2)
            self._hist_failed = True
            return
        self.write_histograms(state.step, "weights", histograms)


__all__ = ["Logger"]
