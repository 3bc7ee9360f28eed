"""`TrainState`: the explicit, typed state every callback receives."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import torch
from torch import nn

from trainwell.io import open_jsonl


@dataclass
class TrainState:
    """What a callback may read (and, for `stop`/`stop_reason`, write) during `Trainer.fit`.

    `step` counts optimizer steps done; `loss` is the last step's loss as a 0-dim tensor on the
    device (reading it with `.item()` forces a sync — callbacks that run every step should not).
    `metrics` holds the latest synced values (train loss and task metrics, val_* figures, lr).
    `monitor` names the validation figure that picks the best weights ("val_accuracy" for
    classification, "val_loss" for regression); `best_value`/`best_step` are its best so far.
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    total_steps: int
    device: torch.device
    run_dir: Path | None = None
    step: int = 0
    epoch: int = 0
    steps_per_epoch: int = 1
    loss: torch.Tensor | None = None
    lr: float = 0.0
    batch: tuple[torch.Tensor, torch.Tensor] | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    monitor: str = "val_accuracy"
    higher_is_better: bool = True
    best_value: float = float("nan")
    best_step: int = -1
    micro_batches: int = 0
    stop: bool = False
    stop_reason: str = ""
    diverged: bool = False
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _files: dict[str, IO[str]] = field(default_factory=dict, repr=False)

    @property
    def best_val_accuracy(self) -> float:
        """The best validation accuracy (when accuracy is what is monitored), else -1."""
        return self.best_value if self.monitor == "val_accuracy" and self.best_step >= 0 else -1.0

    def improves(self, value: float) -> bool:
        """Is `value` of the monitored figure better than the best so far?"""
        if value != value:  # NaN
            return False
        if self.best_step < 0 or self.best_value != self.best_value:
            return True
        return value > self.best_value if self.higher_is_better else value < self.best_value

    def emit(self, stream: str, record: dict[str, Any]) -> None:
        """Append a record to run_dir/<stream>.jsonl, or to `records[stream]` without a run dir."""
        if self.run_dir is None:
            self.records.setdefault(stream, []).append(record)
            return
        handle = self._files.get(stream)
        if handle is None:
            handle = self._files[stream] = open_jsonl(self.run_dir / f"{stream}.jsonl")
        handle.write(json.dumps(record) + "\n")
        handle.flush()

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files.clear()
