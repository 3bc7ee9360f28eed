"""Evaluation: a model's loss and its task's metrics on tensors or any batch source, one sync per call.

    >>> evaluate(model, x_val, y_val)                          # classification: {"loss", "accuracy"}
    >>> evaluate(model, val_loader, task=Regression())         # {"loss", "mse", "rmse", "mae", "r2"}

The loss is averaged over examples (each batch's mean loss weighted by its size); the task's
running sums (`trainwell.train.tasks`) are accumulated on the device and read back once. In a
data-parallel run each process scores its shard and `reduce` (an all_reduce) sums the packed
[loss sum, task sums, count] of all of them before that one transfer.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from trainwell.train.tasks import Classification, LossFn, Task


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Outputs of `model` in eval mode (restoring its previous mode), in batches."""
    was_training = model.training
    model.eval()
    try:
        return torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])
    finally:
        model.train(was_training)


@torch.no_grad()
def evaluate_batches(model: nn.Module, batches: Any, task: Task | None = None, loss_fn: LossFn | None = None,
                     autocast: Any = None, extra: Any = None, reduce: Any = None) -> dict[str, float]:
    """Mean loss and the task's metrics over an iterable of (x, y) batches (model in eval mode);
    `extra`, a `trainwell.train.metrics.MetricSet`, adds its metrics; `reduce(packed)` sums the numbers
    over the processes of a data-parallel run (see the module docstring)."""
    task = task or Classification()
    loss_fn = loss_fn or task.default_loss()
    was_training = model.training
    model.eval()
    loss_sum: torch.Tensor | None = None
    sums: torch.Tensor | None = None
    n = 0
    try:
        for x, y in batches:
            if autocast is not None:
                with autocast():
                    out = model(x)
            else:
                out = model(x)
            out = out.float() if torch.is_floating_point(out) else out
            b = len(y)
            batch_loss = loss_fn(out, y).detach().float() * b
            batch_sums = task.sums(out, y).to(torch.float64)
            if extra is not None:
                extra.update(out, y)
            loss_sum = batch_loss if loss_sum is None else loss_sum + batch_loss
            sums = batch_sums if sums is None else sums + batch_sums
            n += b
    finally:
        model.train(was_training)
    if reduce is not None:  # data-parallel: every process takes part, an empty shard too
        result = _reduced(model, task, loss_sum, sums, n, reduce)
        if extra is not None:  # torchmetrics objects sync over the processes; plain functions see this shard
            result.update(extra.compute())
        return result
    if n == 0 or sums is None or loss_sum is None:
        return {"loss": float("nan"), **task.metrics([0.0] * len(task.sum_names), 0)}
    values = torch.cat([loss_sum.reshape(1).to(torch.float64), sums]).tolist()  # the one transfer
    result = {"loss": values[0] / n, **task.metrics(values[1:], n)}
    if extra is not None:
        result.update(extra.compute())
    return result


def _reduced(model: nn.Module, task: Task, loss_sum: torch.Tensor | None, sums: torch.Tensor | None, n: int,
             reduce: Any) -> dict[str, float]:
    first = next(iter(model.parameters()), None)
    device = first.device if first is not None else torch.device("cpu")
    packed = torch.zeros(len(task.sum_names) + 2, dtype=torch.float64, device=device)
    if n:
        packed[0], packed[1:-1] = loss_sum.to(torch.float64), sums
    packed[-1] = n
    values = reduce(packed).tolist()  # the one transfer, after the one all_reduce
    total = values[-1]
    if total == 0:
        return {"loss": float("nan"), **task.metrics([0.0] * len(task.sum_names), 0)}
    return {"loss": values[0] / total, **task.metrics(values[1:-1], int(round(total)))}


def evaluate(model: nn.Module, x: Any, y: torch.Tensor | None = None, batch_size: int = 1024, *,
             task: Task | None = None, loss_fn: LossFn | None = None, device: torch.device | None = None,
             autocast: Any = None, extra: Any = None, reduce: Any = None) -> dict[str, float]:
    """Mean loss and metrics of `model` on (x, y) tensors, or on a Dataset/DataLoader given as `x`
    (`reduce`: a data-parallel run's sum over the processes, see `evaluate_batches`)."""
    if y is not None:
        if len(x) == 0 and reduce is None:
            task = task or Classification()
            return {"loss": float("nan"), **task.metrics([0.0] * len(task.sum_names), 0)}
        batches = ((x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size))
    else:
        from trainwell.data.adapt import iter_batches

        if device is None:
            first = next(iter(model.parameters()), None)
            device = first.device if first is not None else torch.device("cpu")
        batches = iter_batches(x, batch_size=batch_size, device=device)
    return evaluate_batches(model, batches, task, loss_fn, autocast, extra, reduce)


def accuracy_from_probs(probs: torch.Tensor, y: torch.Tensor) -> float:
    return (probs.argmax(-1) == y).float().mean().item()


__all__ = ["accuracy_from_probs", "evaluate", "evaluate_batches", "predict_logits"]
