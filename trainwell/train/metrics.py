"""Extra validation metrics: torchmetrics' by name (recipe `train.metrics`), or your own from Python.

    trainwell.fit(model, train, val, metrics=["f1", "auroc", "ece"])            # torchmetrics, by name
    trainwell.fit(model, train, val, metrics={"top2": my_fn})                   # fn(outputs, targets) -> float
    trainwell.fit(model, train, val, metrics={"mcc": torchmetrics.MatthewsCorrCoef(task="multiclass", num_classes=10)})

They are computed at each evaluation on the validation data (never per training step), and logged
as val_<name>. A torchmetrics `Metric` is updated batch by batch and computed once (constant
memory); a plain function gets the outputs and targets of the whole validation set concatenated.

| name     | torchmetrics class (classification; multilabel takes num_labels)  |
|----------|--------------------------------------------------------------------|
| f1       | F1Score(average="macro")                                           |
| auroc    | AUROC(average="macro")                                             |
| ece      | CalibrationError(n_bins=15, norm="l1")                             |
| precision| Precision(average="macro")                                         |
| recall   | Recall(average="macro")                                            |
| top5     | Accuracy(top_k=5)                                                  |
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from trainwell.errors import UserError, did_you_mean

NAMED = ("f1", "auroc", "ece", "precision", "recall", "top5")


def _named(name: str, task: str, num_classes: int | None) -> Any:
    import torchmetrics

    if task not in ("classification", "multilabel"):
        raise UserError(f"metric {name!r} is a classification metric; the task is {task}")
    if num_classes is None:
        raise UserError(f"metric {name!r} needs the number of classes")
    kind = "multiclass" if task == "classification" else "multilabel"
    size = {"num_classes": num_classes} if kind == "multiclass" else {"num_labels": num_classes}
    if name == "f1":
        return torchmetrics.F1Score(task=kind, average="macro", **size)
    if name == "auroc":
        return torchmetrics.AUROC(task=kind, average="macro", **size)
    if name == "ece":
        if kind != "multiclass":
            raise UserError("metric 'ece' is defined here for single-label classification")
        return torchmetrics.CalibrationError(task=kind, n_bins=15, norm="l1", **size)
    if name == "precision":
        return torchmetrics.Precision(task=kind, average="macro", **size)
    if name == "recall":
        return torchmetrics.Recall(task=kind, average="macro", **size)
    if name == "top5":
        if kind != "multiclass":
            raise UserError("metric 'top5' is for single-label classification")
        return torchmetrics.Accuracy(task=kind, top_k=min(5, num_classes), **size)
    raise UserError(f"unknown metric {name!r}{did_you_mean(name, NAMED)}; named metrics: {', '.join(NAMED)} "
                    "(or give your own from Python)")


def build_metrics(spec: Sequence[str] | Mapping[str, Any] | None, task: str, num_classes: int | None) -> dict[str, Any]:
    """{name: torchmetrics Metric or function} from names and/or a {name: metric} mapping."""
    if not spec:
        return {}
    items = spec.items() if isinstance(spec, Mapping) else ((name, name) for name in spec)
    out: dict[str, Any] = {}
    for name, metric in items:
        out[str(name)] = _named(metric, task, num_classes) if isinstance(metric, str) else metric
        if not callable(out[str(name)]):
            raise UserError(f"metric {name!r} must be a name, a torchmetrics Metric or a function(outputs, targets)")
    return out


class MetricSet:
    """Accumulates every extra metric over the batches of one evaluation."""

    def __init__(self, metrics: Mapping[str, Any], task: str):
        self.metrics, self.task = dict(metrics), task
        self._outputs: list[torch.Tensor] = []
        self._targets: list[torch.Tensor] = []

    def _stateful(self, m: Any) -> bool:
        return hasattr(m, "update") and hasattr(m, "compute") and hasattr(m, "reset")

    def _scores(self, out: torch.Tensor) -> torch.Tensor:
        if self.task == "classification":
            return out.float().softmax(-1)
        if self.task == "multilabel":
            return out.float().sigmoid()
        return out.float()

    def reset(self) -> None:
        for m in self.metrics.values():
            if self._stateful(m):
                m.reset()
        self._outputs, self._targets = [], []

    def update(self, out: torch.Tensor, y: torch.Tensor) -> None:
        scores = None
        plain = False
        for m in self.metrics.values():
            if self._stateful(m):
                scores = self._scores(out) if scores is None else scores
                m.to(out.device)
                m.update(scores, y.long() if self.task == "multilabel" else y)
            else:
                plain = True
        if plain:
            self._outputs.append(out.detach())
            self._targets.append(y.detach())

    def compute(self) -> dict[str, float]:
        result: dict[str, float] = {}
        outs = torch.cat(self._outputs) if self._outputs else None
        ys = torch.cat(self._targets) if self._targets else None
        for name, m in self.metrics.items():
            value = m.compute() if self._stateful(m) else m(outs, ys)
            result[name] = float(value)
        self.reset()
        return result


Metric = Callable[[torch.Tensor, torch.Tensor], Any]

__all__ = ["MetricSet", "NAMED", "build_metrics"]
