"""Loss checks at initialization (babysitting step 3) and the BatchNorm eval-mode check.

Initial loss. With C classes and an untrained network whose logits are small, the softmax is
nearly uniform and the cross-entropy is −log(1/C) = log C (2.303 for C = 10). Measured with
regularization off (`regularization_off`: no dropout, no penalty, no label smoothing; BatchNorm
on batch statistics as in the first training step) on `loss_batch` training examples:

    |L₀ − log C| ≤ rtol·log C   → pass          (rtol = 0.5)
    L₀ > fail·log C             → fail          (fail = 2: logits far too large)
    (1 + rtol)·log C < L₀ ≤ fail·log C  → info  (somewhat large logits: common, harmless)
    L₀ < (1 − rtol)·log C       → warn          (below chance: imbalance, leakage, a loss that is not CE)

Why 50 %: with logits z_c ~ N(0, s²) the expected loss is ≈ log C + s²/2 for small s, and a
Kaiming-initialized head (gain √2) gives s² ≈ 1–2, i.e. +0.5 … 1 nat over log 10 = 2.30. The
pass band (≤ 3.45 for C = 10) admits that, while an init scale 10× too large (s² ≫ 1: the loss
grows like s·√(2 log C)) exceeds 2·log C and fails.

Regularization raises the loss. L_reg = L₀ computed with the recipe's regularization on:
dropout (training mode), label smoothing, the L1/L2 penalty, and weight decay counted as its
L2 equivalent ½·wd·Σ‖W‖² (for AdamW a decoupled decay never enters the loss; the equivalent is
what it pulls towards). A recipe without any gets a strong L2 (½·strong_l2·Σ‖W‖²) to show the
check works. pass if L_reg > (1 + reg_min_rise)·L₀, else warn.

Eval uses running statistics. In eval mode a network must map each example independently of
the others in its batch: the output for example 0 alone in batch A and inside batch B must agree
(max |Δ| ≤ 1e-4·(1 + max |logit|)). BatchNorm with `track_running_stats=False`, or a custom
normalization that always uses batch statistics, breaks this → fail.
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from trainwell.doctor.config import DoctorConfig
from trainwell.doctor.finding import Finding, Prescription, passed
from trainwell.doctor.probe import regularization_off
from trainwell.nn.kinds import is_batchnorm
from trainwell.optim import Penalty


@torch.no_grad()
def initial_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Cross-entropy (no smoothing) of a regularization-free copy of `model` on (x, y)."""
    net = regularization_off(model)
    return float(F.cross_entropy(net(x), y))


def check_initial_loss(loss: float, num_classes: int, cfg: DoctorConfig) -> Finding:
    expected = math.log(num_classes)
    evidence = {"loss": loss, "expected": expected, "rtol": cfg.init_loss_rtol, "fail_factor": cfg.init_loss_fail,
                "ratio": loss / expected}
    if not math.isfinite(loss):
        return Finding("initial_loss", "fail",
                       f"the loss at init is {loss}: the forward pass overflows — check the init scale and the inputs",
                       evidence, stage="init")
    if abs(loss - expected) <= cfg.init_loss_rtol * expected:
        return passed("initial_loss", f"loss at init {loss:.3f} ≈ log {num_classes} = {expected:.3f} (within "
                      f"{cfg.init_loss_rtol:.0%})", evidence)
    if loss > cfg.init_loss_fail * expected:
        return Finding("initial_loss", "fail",
                       f"loss at init {loss:.3f} > {cfg.init_loss_fail:g}× log {num_classes} = {expected:.3f}: the "
                       "initial logits are far too large (init scale, or unnormalized inputs)", evidence, stage="init")
    if loss > expected:
        return Finding("initial_loss", "info",
                       f"loss at init {loss:.3f} is {loss / expected:.2f}× log {num_classes} = {expected:.3f} (more "
                       f"than {cfg.init_loss_rtol:.0%} off, below {cfg.init_loss_fail:g}×): the initial logits are "
                       "somewhat large — harmless unless other findings point at the init", evidence, stage="init")
    return Finding("initial_loss", "warn",
                   f"loss at init {loss:.3f} is below log {num_classes} = {expected:.3f} by more than "
                   f"{cfg.init_loss_rtol:.0%}: an untrained model should be at chance — very unbalanced classes, "
                   "labels leaking into the inputs, or a loss that is not cross-entropy on logits", evidence,
                   stage="init")


def weights_sq(model: nn.Module) -> torch.Tensor:
    """Σ‖W‖² over the weights that get decay (ndim ≥ 2, outside normalization layers)."""
    return Penalty(l2=1.0)(model) * 2  # Penalty's L2 is ½·l2·Σ‖W‖²


@torch.no_grad()
def regularized_loss(subject: Any, x: torch.Tensor, y: torch.Tensor, cfg: DoctorConfig,
                     seed: int = 0) -> tuple[float, list[str]]:
    """L₀ with the setup's regularization on (see the module docstring); also what was on."""
    model = subject.model
    used: list[str] = []
    has_dropout = any("drop" in type(m).__name__.lower() for m in model.modules())
    net = regularization_off(model)
    if has_dropout:
        for m in net.modules():
            if "drop" in type(m).__name__.lower():
                m.train()
        used.append("dropout")
    with torch.random.fork_rng(devices=[x.device.index or 0] if x.device.type == "cuda" else []):
        torch.manual_seed(seed)
        logits = net(x)
    smoothing = subject.recipe.train.label_smoothing if subject.loss is None else 0.0
    loss = F.cross_entropy(logits, y, label_smoothing=smoothing)
    if smoothing:
        used.append(f"label_smoothing={smoothing:g}")
    o = subject.recipe.optim
    if subject.optimizer is None and (o.l1 or o.l2):
        loss = loss + Penalty(l1=o.l1, l2=o.l2)(net)
        used.append(f"penalty l1={o.l1:g} l2={o.l2:g}")
    wd = subject.weight_decay
    if wd:
        loss = loss + 0.5 * wd * weights_sq(net)
        used.append(f"weight_decay={wd:g} (as ½·wd·Σ‖W‖²)")
    if not used:
        loss = loss + 0.5 * cfg.strong_l2 * weights_sq(net)
        used.append(f"strong L2 {cfg.strong_l2:g} (the setup has no regularization)")
    return float(loss), used


def check_regularization(plain: float, regularized: float, used: list[str], cfg: DoctorConfig) -> Finding:
    rise = (regularized - plain) / abs(plain) if plain else math.inf
    evidence = {"loss": plain, "loss_regularized": regularized, "relative_rise": rise, "min_rise": cfg.reg_min_rise}
    what = ", ".join(used)
    if math.isfinite(regularized) and rise > cfg.reg_min_rise:
        return passed("regularization", f"regularization ({what}) raises the initial loss {plain:.4f} → "
                      f"{regularized:.4f}", evidence)
    return Finding("regularization", "warn",
                   f"regularization ({what}) does not raise the initial loss ({plain:.4f} → {regularized:.4f}, rise "
                   f"{rise:.2%} ≤ {cfg.reg_min_rise:.1%}): it is not wired into the loss, or the weights are ~0 at "
                   "init so it has nothing to act on", evidence, stage="init")


@torch.no_grad()
def check_eval_batch_independence(model: nn.Module, x: torch.Tensor, size: int = 16) -> Finding:
    """Output of example 0 in eval mode, in two different batches, must be the same."""
    if len(x) < 2 * size:
        size = max(2, len(x) // 2)
    was_training = model.training
    model.eval()
    devices = [x.device.index or 0] if x.device.type == "cuda" else []
    try:  # the same seed for both: a model that is random in eval mode (fractional pooling) is not batch-dependent
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(0)
            a = model(x[:size])[0]
            torch.manual_seed(0)
            b = model(torch.cat([x[:1], x[size:2 * size - 1]]))[0]
    finally:
        model.train(was_training)
    diff = float((a - b).abs().max())
    tol = 1e-4 * (1 + float(a.abs().max()))
    bn = [n for n, m in model.named_modules() if is_batchnorm(m)]
    suspects = [n for n, m in model.named_modules() if is_batchnorm(m) and not getattr(m, "track_running_stats", True)]
    evidence = {"max_abs_diff": diff, "tol": tol, "batch_size": size, "batchnorm_layers": len(bn)}
    if diff <= tol:
        return passed("eval_batch_stats", f"eval-mode outputs do not depend on the rest of the batch (max |Δ| "
                      f"{diff:.2g})", evidence)
    layer = suspects[0] if suspects else (bn[0] if bn else None)
    which = f" (BatchNorm without running statistics: {', '.join(suspects)})" if suspects else ""
    return Finding("eval_batch_stats", "fail",
                   f"in eval mode the output for one example changes with the other examples in its batch "
                   f"(max |Δ| {diff:.3g} > {tol:.2g}){which}: evaluation uses batch statistics", evidence, layer,
                   Prescription("keep running statistics and evaluate in eval mode",
                                code="nn.BatchNorm1d(n)  # track_running_stats=True (the default); model.eval() "
                                     "before evaluating"), stage="init")
