"""Learning rate check (babysitting step 5): the recipe's LR against an LR range test.

The LR finder (`trainwell.diagnostics.lr_find`) sweeps the recipe's own optimizer over
lr ∈ [start, end] on a copy of the model and suggests the lr of steepest descent. With
r = optim.lr / suggestion:

    r > 100  (lr_high_fail)  or  r < 1/300 (lr_low_fail)   → fail   (far too high / far too low)
    r > 10   (lr_high_warn)  or  r < 1/30  (lr_low_warn)    → warn
    optim.lr ≥ lr_min, the lr where the sweep's smoothed loss was lowest (beyond it the loss
    climbs: the divergence zone)                             → warn (too high)
    otherwise                                                → pass

Why the low side is wider: the steepest-descent point of a short sweep is an aggressive LR (it
is what one-cycle schedules use as their peak), and it moves by 3–5× between seeds and sweep
lengths; well-tuned constant LRs (Adam 1e-3 … 3e-3 on small nets) sit 3–15× below it. A band of
30× below keeps such recipes quiet while 100× and 1000× too-low LRs are still caught.

The lectures: "a loss barely changing means too low, NaN/explosion means too high".
"""
from __future__ import annotations

import math

import torch
from torch import nn

from trainwell.config import Recipe
from trainwell.data import BatchLoader
from trainwell.doctor.config import DoctorConfig
from trainwell.diagnostics.findings import Finding
from trainwell.diagnostics.lr_finder import LRFinderResult, lr_find


def run_lr_find(model: nn.Module, recipe: Recipe, x: torch.Tensor, y: torch.Tensor, cfg: DoctorConfig) -> LRFinderResult:
    """The LR range test with the recipe's optimizer, batch size and loss on (x, y)."""
    batch = min(recipe.train.batch_size, len(x))
    loader = BatchLoader(x, y, batch, shuffle=True, drop_last=True,
                         generator=torch.Generator().manual_seed(cfg.seed + 1))

    def batches():
        return loader.next_batch()

    from trainwell.assemble.parts import optimizer_factory_for, task_and_loss

    _, loss, _ = task_and_loss(recipe, y)
    return lr_find(model, loss, batches, optimizer_factory_for(recipe, model), start_lr=cfg.lr_start, end_lr=cfg.lr_end,
                   num_steps=cfg.lr_steps, generator=torch.Generator().manual_seed(cfg.seed))


def lr_at_min(result: LRFinderResult) -> float | None:
    """The lr where the smoothed loss of the sweep was lowest (skipping the first tenth)."""
    skip = max(1, len(result.lrs) // 10)
    pts = [(s, lr) for s, lr in zip(result.smoothed[skip:], result.lrs[skip:]) if math.isfinite(s)]
    return min(pts)[1] if pts else None


def check_lr(lr: float, result: LRFinderResult, cfg: DoctorConfig) -> Finding:
    s = result.suggestion
    lr_min = lr_at_min(result)
    numbers = {"lr": lr, "suggestion": s, "lr_min_loss": lr_min, "high_warn": cfg.lr_high_warn,
               "high_fail": cfg.lr_high_fail, "low_warn": cfg.lr_low_warn, "low_fail": cfg.lr_low_fail,
               "ratio": (lr / s) if s else None}
    if not s:
        return Finding("learning_rate", "warn", None,
                       f"the LR range test gave no suggestion ({result.stop_reason or 'flat loss curve'}); "
                       "try a longer sweep (more steps) or check that the loss can decrease at all", numbers)
    r = lr / s
    if r > cfg.lr_high_warn:
        status = "fail" if r > cfg.lr_high_fail else "warn"
        return Finding("learning_rate", status, None,
                       f"optim.lr = {lr:.3g} is {r:.0f}× the LR finder's suggestion {s:.3g} (rule: warn above "
                       f"{cfg.lr_high_warn:g}×, fail above {cfg.lr_high_fail:g}×): too high — the loss will jump or "
                       f"diverge; set optim.lr ≈ {s / 3:.2g} … {s:.2g}", numbers)
    if r < 1 / cfg.lr_low_warn:
        status = "fail" if r < 1 / cfg.lr_low_fail else "warn"
        return Finding("learning_rate", status, None,
                       f"optim.lr = {lr:.3g} is {1 / r:.0f}× below the LR finder's suggestion {s:.3g} (rule: warn "
                       f"below 1/{cfg.lr_low_warn:g}, fail below 1/{cfg.lr_low_fail:g}): too low — the loss will "
                       f"barely move; set optim.lr ≈ {s / 10:.2g} … {s:.2g}", numbers)
    if lr_min is not None and lr >= lr_min:
        return Finding("learning_rate", "warn", None,
                       f"optim.lr = {lr:.3g} is at or beyond {lr_min:.3g}, where the LR sweep's loss was lowest "
                       f"(the loss climbs after it): too high — set optim.lr ≈ {s:.2g}", numbers)
    return Finding("learning_rate", "pass", None,
                   f"optim.lr = {lr:.3g} is within [1/{cfg.lr_low_warn:g}, {cfg.lr_high_warn:g}]× the LR finder's "
                   f"suggestion {s:.3g} (ratio {r:.2g}) and below the loss minimum of the sweep", numbers)
