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
    `metrics` holds the latest synced values (train loss/accuracy, val loss/accuracy, lr).
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
    best_val_accuracy: float = -1.0
    best_step: int = -1
    stop: bool = False
    stop_reason: str = ""
    diverged: bool = False
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _files: dict[str, IO[str]] = field(default_factory=dict, repr=False)

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
