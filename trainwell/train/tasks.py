"""Tasks: what a model predicts, its default loss, and how a batch is scored on the device.

A task turns (output, target) into a few running SUMS on the device (no host sync per step); the
host reads the sums once per log window or evaluation and `metrics(sums, n)` turns them into the
figures people read. Three tasks:

| task          | targets                  | default loss                | metrics                                   |
|---------------|--------------------------|-----------------------------|-------------------------------------------|
| classification| int labels N (0..C-1)    | cross-entropy on logits     | accuracy                                  |
| multilabel    | 0/1 floats N×C           | BCE with logits             | label accuracy (Hamming), exact match     |
| regression    | floats N or N×D          | MSE                         | MSE, RMSE, MAE, R² (1 − SSE/SST)          |

R² uses SST = Σy² − (Σy)²/n over the scored examples (per output column, summed), so it is exact
from sums. Chance (what a model that ignores its input scores) is stated per task: the majority
class rate for classification (`majority_rate`), R² = 0 for regression.

`infer_task(y)` picks a task from the targets and says why (integer labels → classification,
a 0/1 matrix → multilabel, other floats → regression).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from trainwell.errors import UserError

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Task:
    """Base: `sums(output, target)` → 1-D tensor of running sums; `metrics(sums, n)` → figures."""

    name: str = "task"
    monitor: str = "accuracy"       # the validation figure that picks "best" weights
    higher_is_better: bool = True
    sum_names: tuple[str, ...] = ()

    def default_loss(self) -> LossFn:  # pragma: no cover - abstract
        raise NotImplementedError

    def sums(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def metrics(self, sums: list[float], n: int) -> dict[str, float]:  # pragma: no cover
        raise NotImplementedError

    def predict(self, output: torch.Tensor) -> torch.Tensor:
        return output

    def describe(self) -> str:
        return self.name


@dataclass(frozen=True)
class Classification(Task):
    """Single-label classification: logits N×C, int labels N (or soft targets N×C when mixing)."""

    name: str = "classification"
    monitor: str = "accuracy"
    higher_is_better: bool = True
    sum_names: tuple[str, ...] = ("correct",)
    label_smoothing: float = 0.0

    def default_loss(self) -> LossFn:
        smoothing = self.label_smoothing

        def cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            return F.cross_entropy(logits, target, label_smoothing=smoothing)

        return cross_entropy

    def sums(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if target.dim() > 1:  # soft targets: score against their argmax
            target = target.argmax(-1)
        return (output.argmax(-1) == target).sum().reshape(1)

    def metrics(self, sums: list[float], n: int) -> dict[str, float]:
        return {"accuracy": sums[0] / n if n else float("nan")}

    def predict(self, output: torch.Tensor) -> torch.Tensor:
        return output.argmax(-1)


@dataclass(frozen=True)
class MultiLabel(Task):
    """Multi-label classification: logits N×C, 0/1 targets N×C; a label is on when its logit > 0."""

    name: str = "multilabel"
    monitor: str = "label_accuracy"
    higher_is_better: bool = True
    sum_names: tuple[str, ...] = ("correct_labels", "exact", "labels")

    def default_loss(self) -> LossFn:
        def bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            return F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype))

        return bce

    def sums(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        hit = (output > 0) == (target > 0.5)
        per_row = hit.reshape(len(hit), -1)
        return torch.stack([per_row.sum(), per_row.all(1).sum(), torch.tensor(per_row.numel(), device=hit.device)])

    def metrics(self, sums: list[float], n: int) -> dict[str, float]:
        if not n:
            return {"label_accuracy": float("nan"), "exact_match": float("nan")}
        return {"label_accuracy": sums[0] / max(sums[2], 1.0), "exact_match": sums[1] / n}

    def predict(self, output: torch.Tensor) -> torch.Tensor:
        return (output > 0).to(torch.int64)


@dataclass(frozen=True)
class Regression(Task):
    """Regression: outputs N or N×D, float targets of the same number of values per example."""

    name: str = "regression"
    monitor: str = "loss"
    higher_is_better: bool = False
    sum_names: tuple[str, ...] = ("sse", "sae", "sum_y", "sum_y2", "values")

    def default_loss(self) -> LossFn:
        def mse(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            return F.mse_loss(output.reshape(target.shape), target.to(output.dtype))

        return mse

    def sums(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        out = output.detach().reshape(len(target), -1).float()
        tgt = target.reshape(len(target), -1).to(out.dtype)
        err = out - tgt
        return torch.stack([err.square().sum(), err.abs().sum(), tgt.sum(), tgt.square().sum(),
                            torch.tensor(float(tgt.numel()), device=out.device)])

    def metrics(self, sums: list[float], n: int) -> dict[str, float]:
        sse, sae, sy, sy2, values = sums
        if not values:
            return {"mse": float("nan"), "rmse": float("nan"), "mae": float("nan"), "r2": float("nan")}
        mse = sse / values
        sst = sy2 - sy * sy / values
        return {"mse": mse, "rmse": mse ** 0.5, "mae": sae / values, "r2": 1.0 - sse / sst if sst > 0 else float("nan")}


TASKS: dict[str, type[Task]] = {"classification": Classification, "multilabel": MultiLabel, "regression": Regression}


def build_task(name: str | Task, **options: Any) -> Task:
    """A task by name ("classification", "multilabel", "regression"), or a Task passed through."""
    if isinstance(name, Task):
        return name
    if name not in TASKS:
        from trainwell.errors import did_you_mean

        raise UserError(f"unknown task {name!r}{did_you_mean(name, TASKS)}; valid tasks: {', '.join(TASKS)}")
    return TASKS[name](**options)


def infer_task(y: torch.Tensor) -> tuple[Task, str]:
    """(task, reason) from the training targets."""
    if not torch.is_floating_point(y) and not torch.is_complex(y) and y.dtype != torch.bool:
        if y.dim() == 1:
            return Classification(), "integer labels, one per example → classification"
        return MultiLabel(), f"integer targets of shape {tuple(y.shape[1:])} per example → multi-label"
    if y.dtype == torch.bool or (y.dim() == 2 and bool(((y == 0) | (y == 1)).all())):
        return MultiLabel(), "0/1 targets, several per example → multi-label classification"
    return Regression(), "real-valued targets → regression"


def majority_rate(y: torch.Tensor, num_classes: int | None = None) -> float:
    """The accuracy of always predicting the most frequent class of `y` (what chance means here)."""
    if len(y) == 0:
        return float("nan")
    counts = torch.bincount(y.reshape(-1).long().cpu(), minlength=num_classes or 0)
    return float(counts.max()) / float(len(y))


__all__ = ["Classification", "MultiLabel", "Regression", "TASKS", "Task", "build_task", "infer_task", "majority_rate"]
