"""Evaluation of a classifier on pre-loaded tensors: one sync per call."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Logits of `model` in eval mode (restoring its previous mode), in batches."""
    was_training = model.training
    model.eval()
    try:
        return torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])
    finally:
        model.train(was_training)


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024) -> dict[str, float]:
    """Mean cross-entropy loss and accuracy (a fraction in [0, 1]) of `model` on (x, y)."""
    if len(x) == 0:
        return {"loss": float("nan"), "accuracy": float("nan")}
    logits = predict_logits(model, x, batch_size)
    loss = F.cross_entropy(logits.float(), y, reduction="sum")
    correct = (logits.argmax(1) == y).sum()
    loss_sum, n_correct = torch.stack([loss, correct.to(loss.dtype)]).tolist()
    return {"loss": loss_sum / len(x), "accuracy": n_correct / len(x)}


def accuracy_from_probs(probs: torch.Tensor, y: torch.Tensor) -> float:
    return (probs.argmax(-1) == y).float().mean().item()
