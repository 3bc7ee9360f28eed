"""`reference_train_one`: one trial as a plain loop over one ordinary model and torch.optim.

This is the definition `train_many` must match (and what the tests compare against). The
conventions (see `streams.py` and `dropout.py`):

1. ``model = make_model(torch.Generator().manual_seed(seed))``; weights (ndim > 1) × init_scale;
   every nn.Dropout* gets the trial's dropout rate (if given) and draws its masks from
   ``Generator(device).manual_seed(seed + 2)`` (its dropout children are swapped for
   `GeneratorDropout` — this function owns the model it builds);
2. batches: ``randperm(N)`` per epoch from ``Generator().manual_seed(seed + 1)``, consecutive
   slices, drop_last;
3. loss = mean cross-entropy of the batch; ``opt.zero_grad(); loss.backward()``; the lr of step
   t (from 0) is ``lr * schedule(t, steps)``, written into the param group before ``opt.step()``;
4. validation accuracy (eval mode) every `eval_every` steps and after the last step.

Example:
    >>> make = lambda g: nn.Sequential(nn.Linear(4, 3))
    >>> x, y = torch.randn(32, 4, generator=torch.Generator().manual_seed(0)), torch.arange(32) % 3
    >>> reference_train_one(make, {"seed": 0, "lr": 0.1}, x, y, steps=3, batch_size=8).train_loss.shape
    torch.Size([3])
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from trainwell.vectorized.checks import Schedule, accuracy, check_data, check_steps, lr_factor
from trainwell.vectorized.dropout import set_dropout_rate, use_generator_dropout
from trainwell.vectorized.hparams import parse_trials
from trainwell.vectorized.streams import build_model, dropout_generator, single_batches
from trainwell.optim.param_groups import param_groups


@dataclass
class OneResult:
    """One trial: the trained model, its per-step loss, and validation accuracy per evaluation."""

    model: nn.Module
    train_loss: torch.Tensor
    val_steps: list[int]
    val_acc: list[float]

    @property
    def final_val_acc(self) -> float | None:
        return self.val_acc[-1] if self.val_acc else None


def make_torch_optimizer(params, optimizer: str, lr: float, weight_decay: float, momentum: float) -> torch.optim.Optimizer:
    """torch.optim.Adam / SGD(momentum) / AdamW with the trial's hyperparameters (torch defaults otherwise);
    `params` may be parameter groups with their own weight_decay (`trainwell.optim.param_groups`)."""
    if optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


def reference_train_one(
    make_model: Callable[[torch.Generator], nn.Module],
    hparams: dict[str, Any],
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    *,
    steps: int,
    batch_size: int,
    optimizer: str = "adam",
    schedule: Schedule | None = None,
    x_val: torch.Tensor | None = None,
    y_val: torch.Tensor | None = None,
    eval_every: int | None = None,
    device: torch.device | str | None = None,
) -> OneResult:
    """Train ONE trial (`hparams`: one dict as in `train_many`) the plain way; see the module docstring."""
    (trial,) = parse_trials([hparams], optimizer)
    check_data(x_train, y_train, "train")
    check_steps(steps, eval_every)
    has_val = x_val is not None or y_val is not None
    if has_val:
        check_data(x_val, y_val, "val")
    device = torch.device(device) if device is not None else x_train.device

    model = build_model(make_model, trial.seed, trial.init_scale).to(device)
    if trial.dropout is not None:
        set_dropout_rate(model, trial.dropout)
    use_generator_dropout(model, dropout_generator(trial.seed, device))
    # trainwell's decay rule, as the Trainer: λ on weights with ≥ 2 dims outside normalization layers only
    opt = make_torch_optimizer(param_groups(model, trial.weight_decay), optimizer, trial.lr, trial.weight_decay,
                               trial.momentum)
    x, y = x_train.to(device), y_train.to(device)
    losses = torch.empty(steps, device=device)
    val_steps: list[int] = []
    val_acc: list[float] = []

    model.train()
    for step, idx in enumerate(single_batches(trial.seed, x.shape[0], batch_size, steps)):
        idx = idx.to(device)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        for group in opt.param_groups:
            group["lr"] = trial.lr * lr_factor(schedule, step, steps)
        opt.step()
        losses[step] = loss.detach()
        done = step + 1
        if has_val and ((eval_every is not None and done % eval_every == 0) or done == steps):
            model.eval()
            with torch.no_grad():
                val_acc.append(float(accuracy(model(x_val.to(device)), y_val.to(device))))
            model.train()
            val_steps.append(done)
    return OneResult(model=model, train_loss=losses, val_steps=val_steps, val_acc=val_acc)
