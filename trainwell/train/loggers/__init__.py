"""Loggers: the run's records in the tools people read them with — TensorBoard, CSV, MLflow.

Each logger is a `Callback` (one file each); any number run at once, beside metrics.jsonl:

    from trainwell.train.loggers import CSVLogger, MLflowLogger, TensorBoardLogger
    trainwell.fit(model, train, val, run_dir="runs/a",
                  callbacks=[TensorBoardLogger(), CSVLogger(), MLflowLogger()])   # into runs/a/
    trainwell.fit(model, train, val, callbacks=[TensorBoardLogger("logs/tb")])    # no run dir

From a recipe (`loggers_for`, used by `trainwell.assemble.parts.callbacks_for`):

    [log]
    tensorboard = true          # <run>/tensorboard/   (pip install 'trainwell[tensorboard]')
    csv = true                  # <run>/metrics.csv
    mlflow = true               # <run>/mlruns/mlflow.db (pip install 'trainwell[mlflow]')
    mlflow_uri = "http://..."   # or a tracking server
    histograms_every = 100      # weight histograms every 100 steps (default: each evaluation)

What they log, from the plain records only (`trainwell.train.loggers.scalars`): loss, every
metric of the task, LR, gradient norm (train.log_grad_norm or clipping), throughput; per-layer
statistics when a `StatsCallback` runs; weight and activation histograms (TensorBoard). They act
at ``on_log`` / ``on_eval_end`` only: no per-step work and no extra device→host sync
(`trainwell.train.loggers.base`). A recipe without a ``[log]`` table adds no callback at all.
"""
from __future__ import annotations

from typing import Any

from trainwell.train.loggers.base import Logger
from trainwell.train.loggers.csv_logger import CSVLogger
from trainwell.train.loggers.mlflow_logger import MLflowLogger
from trainwell.train.loggers.tensorboard_logger import TensorBoardLogger


def loggers_for(log: Any, *, params: dict[str, Any] | None = None, experiment: str = "trainwell") -> list[Logger]:
    """The loggers a recipe's ``[log]`` table asks for (`trainwell.config.LogConfig`), in the order
    TensorBoard, CSV, MLflow. `params`: what MLflow records as the run's parameters (the recipe,
    flattened); `experiment`: its experiment name unless ``log.mlflow_experiment`` names one.
    They write into the run directory and stay silent in runs without one."""
    out: list[Logger] = []
    if log.tensorboard:
        out.append(TensorBoardLogger(histograms_every=log.histograms_every, only_with_run_dir=True))
    if log.csv:
        out.append(CSVLogger(only_with_run_dir=True))
    if log.mlflow:
        out.append(MLflowLogger(log.mlflow_uri, experiment=log.mlflow_experiment or experiment, params=params,
                                only_with_run_dir=True))
    return out


__all__ = ["CSVLogger", "Logger", "MLflowLogger", "TensorBoardLogger", "loggers_for"]
