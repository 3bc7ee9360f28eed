"""`ManyResult`: what `train_many` returns — stacked final parameters, curves, and K models.

Shapes (K trials): ``params[name]`` K×..., ``train_loss`` K×len(loss_steps) (the mini-batch loss
at each recorded step), ``val_acc`` K×len(val_steps), ``final_val_acc`` K. ``predict_proba(x)``
gives K×N×C softmax probabilities of the final models in eval mode (no dropout); ``models()``
unstacks them into K ordinary modules (eval mode, dropout rate set to the trial's).
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from trainwell.vectorized.dropout import set_dropout_rate
from trainwell.vectorized.hparams import Trial
from trainwell.errors import UserError


@torch.no_grad()
def shared_logits(forward: Callable, params: dict[str, torch.Tensor], x: torch.Tensor, k: int, batch_size: int = 4096) -> torch.Tensor:
    """K×N×C outputs of K stacked models on the same inputs `x` (N×...), eval mode, in chunks."""
    device = next(iter(params.values())).device
    chunks = []
    for start in range(0, x.shape[0], batch_size):
        xc = x[start : start + batch_size].to(device)
        chunks.append(forward(params, xc.unsqueeze(0).expand((k,) + tuple(xc.shape)), None))
    return torch.cat(chunks, dim=1)


@dataclass
class ManyResult:
    trials: list[Trial]
    params: dict[str, torch.Tensor]
    loss_steps: list[int]
    train_loss: torch.Tensor
    val_steps: list[int]
    val_acc: torch.Tensor | None
    final_val_acc: torch.Tensor | None
    engine: str
    template: nn.Module
    forward: Callable[[dict[str, torch.Tensor], torch.Tensor, Callable | None], torch.Tensor]

    @property
    def k(self) -> int:
        return len(self.trials)

    def state_dicts(self) -> list[dict[str, torch.Tensor]]:
        """Trial k's parameters as an ordinary state_dict (views into the stacked tensors)."""
        return [{name: p[i] for name, p in self.params.items()} for i in range(self.k)]

    def models(self) -> list[nn.Module]:
        """K ordinary modules with the final parameters, in eval mode."""
        out = []
        for trial, state in zip(self.trials, self.state_dicts()):
            model = copy.deepcopy(self.template)
            model.load_state_dict(state, strict=True)
            if trial.dropout is not None:
                set_dropout_rate(model, trial.dropout)
            out.append(model.eval())
        return out

    def logits(self, x: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
        """K×N×C outputs of the K final models on the same inputs `x` (N×...), in eval mode."""
        return shared_logits(self.forward, self.params, x, self.k, batch_size)

    def predict_proba(self, x: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
        """K×N×C class probabilities (softmax of `logits`)."""
        return torch.softmax(self.logits(x, batch_size), dim=-1)

    def best(self) -> int:
        """Index of the trial with the highest final validation accuracy (ties: the first)."""
        if self.final_val_acc is None:
            raise UserError("best() needs validation data: pass x_val and y_val to train_many")
        return int(torch.argmax(self.final_val_acc).item())
