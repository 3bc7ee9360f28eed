"""Overfit a tiny subset (babysitting step 4).

Take `n` = 20 training examples, switch regularization and augmentation off
(`regularization_off`: a copy in eval mode, BatchNorm on batch statistics) and train the copy
full-batch with plain Adam (lr 1e-3, no weight decay). A working model and pipeline memorize
20 examples: training accuracy must reach 100 % within `steps` steps. If not, something is
broken — the model cannot fit (collapsed or saturated activations, vanishing gradients) or the
inputs and labels do not belong together.

The caller's model and the global RNG are untouched (a copy is trained inside `fork_rng`).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from trainwell.doctor.config import DoctorConfig
from trainwell.doctor.finding import Finding, passed
from trainwell.doctor.probe import regularization_off


@dataclass
class OverfitResult:
    examples: int
    steps: int                      # steps taken
    reached: bool                   # 100 % training accuracy reached
    accuracy: float                 # final training accuracy on the subset
    losses: list[float] = field(default_factory=list)  # loss at each accuracy check


def overfit_tiny(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int = 300, lr: float = 1e-3,
                 check_every: int = 10, seed: int = 0,
                 loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None) -> OverfitResult:
    """Train a regularization-free copy of `model` on (x, y) full-batch with Adam until 100 %
    (`loss_fn`: the setup's loss; cross-entropy by default)."""
    loss_fn = loss_fn or F.cross_entropy
    devices = [x.device.index or 0] if x.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        net = regularization_off(model)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        losses: list[float] = []
        acc, step = 0.0, 0
        for step in range(1, steps + 1):
            logits = net(x)
            loss = loss_fn(logits, y)
            if (step - 1) % check_every == 0:
                acc = float((logits.argmax(1) == y).float().mean())
                losses.append(float(loss.detach()))
                if acc == 1.0:
                    step -= 1
                    break
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        else:
            with torch.no_grad():
                logits = net(x)
                acc = float((logits.argmax(1) == y).float().mean())
                losses.append(float(loss_fn(logits, y)))
    return OverfitResult(len(x), step, acc == 1.0, acc, losses)


def check_overfit(result: OverfitResult, cfg: DoctorConfig) -> Finding:
    evidence = {"examples": result.examples, "steps": result.steps, "budget": cfg.overfit_steps,
                "accuracy": result.accuracy, "lr": cfg.overfit_lr,
                "final_loss": result.losses[-1] if result.losses else None}
    if result.reached:
        return passed("overfit_tiny", f"memorized {result.examples} examples (100 % training accuracy) in "
                      f"{result.steps} Adam steps", evidence)
    return Finding("overfit_tiny", "fail",
                   f"could not overfit {result.examples} examples: {result.accuracy:.0%} training accuracy after "
                   f"{result.steps} full-batch Adam steps (lr {cfg.overfit_lr:g}, no regularization) — the model, "
                   "its loss or the data pipeline is broken (see the findings above)", evidence, stage="overfit")
