"""Input checks and small helpers shared by `train_many` and `reference_train_one`."""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from trainwell.errors import UserError
from trainwell.nn.kinds import is_batchnorm

Schedule = Callable[[int, int], float]


def check_data(x: torch.Tensor, y: torch.Tensor, what: str) -> None:
    """`x` float N×..., `y` int64 N labels."""
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise UserError(f"x_{what} and y_{what} must be torch tensors, got {type(x).__name__} and {type(y).__name__}")
    if not x.is_floating_point():
        raise UserError(f"x_{what} must be a floating-point tensor, got dtype {x.dtype}")
    if y.ndim != 1 or y.dtype != torch.long:
        raise UserError(f"y_{what} must be a 1-D int64 tensor of class labels, got shape {tuple(y.shape)} and dtype {y.dtype}")
    if x.shape[0] != y.shape[0]:
        raise UserError(f"x_{what} has {x.shape[0]} examples but y_{what} has {y.shape[0]}")


def check_steps(steps: int, eval_every: int | None) -> None:
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise UserError(f"steps must be a positive int, got {steps!r}")
    if eval_every is not None and (not isinstance(eval_every, int) or isinstance(eval_every, bool) or eval_every < 1):
        raise UserError(f"eval_every must be a positive int or None, got {eval_every!r}")


def lr_factor(schedule: Schedule | None, step: int, steps: int) -> float:
    """``schedule(step, steps)`` (1.0 without a schedule), checked to be a finite number >= 0."""
    if schedule is None:
        return 1.0
    f = schedule(step, steps)
    if not isinstance(f, (int, float)) or isinstance(f, bool) or not math.isfinite(f) or f < 0:
        raise UserError(f"schedule({step}, {steps}) must return a finite number >= 0 (a factor of lr), got {f!r}")
    return float(f)


def refuse_buffers(model: nn.Module) -> None:
    """Refuse modules with buffers (BatchNorm's running statistics and the like).

    BatchNorm is refused, not batched: per-model batch statistics would be easy, but running
    statistics are state that is updated outside the gradient and would have to be stacked and
    written back per trial; use LayerNorm/GroupNorm (no running state) or train one by one.
    """
    for name, module in model.named_modules():
        own = [b for b, _ in module.named_buffers(recurse=False)]
        if is_batchnorm(module):
            raise UserError(
                f"train_many does not support BatchNorm: the model has {type(module).__name__} at {name!r}; "
                "use LayerNorm or GroupNorm (no running statistics), or train these models one by one"
            )
        if own:
            raise UserError(
                f"train_many does not support modules with buffers: {type(module).__name__} at {name!r} has {own}; "
                "only parameters are stacked across trials"
            )


@torch.no_grad()
def accuracy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Fraction of argmax(logits, -1) == y, over the last-but-one dim (…×N×C, N -> …)."""
    return (logits.argmax(-1) == y).float().mean(-1)
