"""Losses by name (recipe key `train.loss`), each a callable loss(outputs, target) → scalar mean.

| name            | formula (per example, then the mean)                           | task            |
|-----------------|----------------------------------------------------------------|-----------------|
| cross_entropy   | −Σ_c q_c log softmax(z)_c; q one-hot, smoothed or soft targets  | classification  |
| bce_with_logits | −[y log σ(z) + (1−y) log(1−σ(z))] per label                     | multi-label     |
| mse             | (z − y)²                                                        | regression      |
| huber           | ½(z−y)² if |z−y| ≤ δ else δ(|z−y| − ½δ)  (δ = 1)                | regression      |
| l1              | |z − y|                                                         | regression      |

Class weights (`weight = [w_0, ..., w_{C-1}]`, or "balanced" = n / (C · n_c) computed from the
training labels by the assembly) scale each example's cross-entropy by the weight of its class, as
torch's `F.cross_entropy(weight=...)` does (the mean is then Σ w_{y_i} ℓ_i / Σ w_{y_i}).

Example:
    >>> loss = LOSSES.build({"name": "huber", "delta": 0.5})
    >>> float(loss(torch.tensor([0.0, 2.0]), torch.tensor([0.25, 0.0])))   # (½·0.25² + 0.5·(2 − 0.25)) / 2
    0.453125
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from trainwell.errors import UserError
from trainwell.registry import Registry

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def cross_entropy(label_smoothing: float = 0.0, weight: Sequence[float] | None = None) -> LossFn:
    """Cross-entropy on logits N×C with int labels N or soft targets N×C (Mixup/CutMix)."""
    if not 0.0 <= label_smoothing < 1.0:
        raise UserError(f"cross_entropy: label_smoothing must be in [0, 1), got {label_smoothing!r}")
    w = None if weight is None else torch.as_tensor(list(weight), dtype=torch.float32)
    if w is not None and (w.dim() != 1 or not bool(torch.isfinite(w).all()) or bool((w < 0).any())):
        raise UserError(f"cross_entropy: weight must be a list of non-negative numbers, one per class, got {weight!r}")
    cache: dict[tuple[torch.device, torch.dtype], torch.Tensor] = {}

    def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if target.dtype != torch.int64 and not target.is_floating_point():
            target = target.long()  # int32/uint8 labels from a user's data
        cw = None
        if w is not None:
            if len(w) != logits.shape[1]:
                raise UserError(f"cross_entropy: {len(w)} class weights for {logits.shape[1]} classes")
            key = (logits.device, logits.dtype)
            cw = cache.get(key)
            if cw is None:
                cw = cache[key] = w.to(device=logits.device, dtype=logits.dtype)
        return F.cross_entropy(logits, target, weight=cw, label_smoothing=label_smoothing)

    return loss


def bce_with_logits(pos_weight: Sequence[float] | None = None) -> LossFn:
    """Binary cross-entropy on logits, one per label (multi-label classification)."""
    pw = None if pos_weight is None else torch.as_tensor(list(pos_weight), dtype=torch.float32)

    def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        weight = None if pw is None else pw.to(logits.device, logits.dtype)
        return F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype).reshape(logits.shape), pos_weight=weight)

    return loss


def _regression(fn: Callable[..., torch.Tensor], **kw: float) -> LossFn:
    def loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if output.numel() != target.numel():
            raise UserError(f"regression loss: the model gives {output.numel() // max(len(output), 1)} value(s) per "
                            f"example but the targets have {target.numel() // max(len(target), 1)}")
        return fn(output.reshape(target.shape), target.to(output.dtype), **kw)

    return loss


def mse() -> LossFn:
    """Mean squared error."""
    return _regression(F.mse_loss)


def huber(delta: float = 1.0) -> LossFn:
    """Huber loss (quadratic within δ, linear beyond)."""
    if not delta > 0:
        raise UserError(f"huber: delta must be > 0, got {delta!r}")
    return _regression(F.huber_loss, delta=float(delta))


def l1() -> LossFn:
    """Mean absolute error."""
    return _regression(F.l1_loss)


LOSSES = Registry("loss")
LOSSES.add("cross_entropy", cross_entropy, "cross-entropy on logits (label_smoothing, class weight); classification")
LOSSES.add("bce_with_logits", bce_with_logits, "binary cross-entropy on logits per label; multi-label")
LOSSES.add("mse", mse, "mean squared error; regression")
LOSSES.add("huber", huber, "Huber (smooth L1) with delta; regression robust to outliers")
LOSSES.add("l1", l1, "mean absolute error; regression")

TASK_OF_LOSS = {"cross_entropy": "classification", "bce_with_logits": "multilabel", "mse": "regression",
                "huber": "regression", "l1": "regression"}

__all__ = ["LOSSES", "TASK_OF_LOSS", "bce_with_logits", "cross_entropy", "huber", "l1", "mse"]
