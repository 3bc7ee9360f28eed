"""`TensorBoardLogger`: scalars and histograms of a run as TensorBoard event files.

    trainwell.fit(model, train, val, callbacks=[TensorBoardLogger("logs/tb")])
    # recipe: [log] tensorboard = true   → <run>/tensorboard/
    # then:   tensorboard --logdir runs/

Written with `torch.utils.tensorboard.SummaryWriter` (needs the `tensorboard` package:
``pip install 'trainwell[tensorboard]'``), which queues events and writes them from a thread
of its own; the logger flushes after each evaluation and closes at the end of fit.

Scalars (tag = split/name, step = optimizer steps done): ``train/loss``, ``train/<each task
metric>``, ``train/lr``, ``train/grad_norm`` (when logged), ``train/steps_per_s``,
``train/examples_per_s``; ``val/loss``, ``val/<each task metric>``; with a `StatsCallback`,
``stats/act_mean/<layer>``, ``stats/act_std/<layer>``, ``stats/dead_frac/<layer>``,
``stats/saturated_frac/<layer>``, ``stats/grad_std/<layer>``, ``stats/grad_norm/<param>``,
``stats/update_ratio/<param>`` (see `trainwell.train.loggers.scalars`).

Histograms: ``weights/<param>`` at the start and then at each evaluation (or every
`histograms_every` steps; 0 turns them off), and ``activations/<layer>`` from each
`StatsCallback` record.

A resumed run starts its writer with ``purge_step`` = its checkpoint's step + 1 (a fresh run: 0),
so TensorBoard hides what an earlier writer in the folder logged from that step on — the steps a
killed run logged after its last checkpoint, or a whole older run (--overwrite) — instead of
drawing two curves over each other.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from trainwell.train.loggers.base import Logger
from trainwell.train.loggers.extras import load, require
from trainwell.train.loggers.histograms import Histogram


class TensorBoardLogger(Logger):
    """TensorBoard event files in `dir` (default: <run directory>/tensorboard). See the module docstring."""

    subfolder = "tensorboard"
    wants_histograms = True

    def __init__(self, dir: str | Path | None = None, *, histograms_every: int | None = None, bins: int = 30,
                 flush_secs: int = 30, stats_stream: str = "stats", only_with_run_dir: bool = False):
        require("tensorboard", "tensorboard", "TensorBoardLogger")
        super().__init__(dir, histograms_every=histograms_every, bins=bins, stats_stream=stats_stream,
                         only_with_run_dir=only_with_run_dir)
        self.flush_secs = flush_secs
        self.writer: Any = None

    def open(self, state: Any, folder: Path | None) -> None:
        module = load("torch.utils.tensorboard", "tensorboard", "TensorBoardLogger")
        from trainwell.io import ensure_dir

        ensure_dir(folder, "TensorBoard folder")
        # the first step this fit logs: events of an earlier writer from it on are hidden
        purge = state.step + 1 if state.step > 0 else 0
        self.writer = module.SummaryWriter(log_dir=str(folder), purge_step=purge, flush_secs=self.flush_secs)

    def write(self, split: str, step: int, epoch: float | None, values: dict[str, float]) -> None:
        for name, value in values.items():
            self.writer.add_scalar(f"{split}/{name}", value, step)

    def write_histograms(self, step: int, group: str, histograms: list[Histogram]) -> None:
        for h in histograms:
            self.writer.add_histogram_raw(f"{group}/{h.name}", min=h.lo, max=h.hi, num=h.num, sum=h.sum,
                                          sum_squares=h.sum_squares, bucket_limits=h.bucket_limits,
                                          bucket_counts=h.bucket_counts, global_step=step)

    def flush(self) -> None:
        self.writer.flush()

    def close(self, state: Any) -> None:
        self.writer.close()
        self.writer = None


__all__ = ["TensorBoardLogger"]
