"""The learning rate (babysitting step 5): an LR range test, weighed with what the short run did.

The LR finder (`trainwell.diagnostics.lr_find`) sweeps the setup's own optimizer (the recipe's, or
a clone of the user's) over lr ∈ [start, end] on a copy of the model and suggests s, the lr of
steepest descent; lr_min is where the sweep's smoothed loss was lowest. With r = lr / s, one
verdict combines the evidence, so the report never says "too high" and "too low" at once:

    too high   the short run diverged (non-finite loss)                               → fail
               or a log window's loss > peak_rise (1.5) × the loss at init             → warn
               or r > lr_high_fail (100)                                               → fail
               or r > lr_high_warn (10)                                                → warn
               or lr ≥ lr_min and the loss rose or swung (doubled between log windows)  → warn
               or (SGD family) median ‖Δw‖/‖w‖ > update_band[1] and the loss did not fall ≥ 5 %
    too low    r < 1/lr_low_fail (1/300)                                               → fail
               or r < 1/lr_low_warn (1/30) and the loss fell < 30 % in the short run    → warn
               or (SGD family) median ‖Δw‖/‖w‖ < update_band[0] and the loss fell < 5 % → warn

Why the low side is wider: the steepest-descent point of a short sweep is an aggressive LR (what
one-cycle schedules use as their peak) and it moves by 3–5× between seeds and sweep lengths;
well-tuned constant LRs (Adam 1e-3 … 3e-3 on small nets) sit 3–15× below it.

Update ratios ‖Δw‖/‖w‖ (rule of thumb ≈ 1e-3) are judged for SGD-family optimizers only: Adam-family
updates are ≈ lr per weight whatever the gradient (the step is normalized by √v̂), so there the
ratio measures the LR against the weights' scale, not the gradient, and the LR range test decides.

Prescription: lr = s/3 (rounded to 2 significant digits); without a suggestion, ÷10 or ×10.
A verdict that the short run did not show by itself (divergence, a loss climbing above its value at
init) is tried before it is given: `confirm_lr` reruns the short run at s/3 and s and keeps the
verdict (prescribing the better of the two) only if that fits the training data better.

The lectures: "a loss barely changing means too low, NaN/explosion means too high".
"""
from __future__ import annotations

import math
from statistics import median
from typing import Any

import torch

from trainwell.doctor.config import DoctorConfig
from trainwell.doctor.finding import Finding, passed
from trainwell.doctor.prescribe import lr_fix, round_sig
from trainwell.diagnostics.lr_finder import LRFinderResult, lr_find


def run_lr_find(subject: Any, cfg: DoctorConfig) -> LRFinderResult:
    """The LR range test with the subject's optimizer, batch size and loss on its training sample."""
    from trainwell.data import BatchLoader
    from trainwell.doctor.subject import optimizer_factory

    x, y = subject.x_train, subject.y_train
    batch = min(subject.batch_size or 128, len(x))
    loader = BatchLoader(x, y, batch, shuffle=True, drop_last=True, generator=torch.Generator().manual_seed(cfg.seed + 1))
    return lr_find(subject.model, subject.loss_fn(), loader.next_batch, optimizer_factory(subject, subject.model),
                   start_lr=cfg.lr_start, end_lr=cfg.lr_end, num_steps=cfg.lr_steps,
                   generator=torch.Generator().manual_seed(cfg.seed))


def lr_at_min(result: LRFinderResult) -> float | None:
    """The lr where the smoothed loss of the sweep was lowest (skipping the first tenth)."""
    skip = max(1, len(result.lrs) // 10)
    pts = [(s, lr) for s, lr in zip(result.smoothed[skip:], result.lrs[skip:]) if math.isfinite(s)]
    return min(pts)[1] if pts else None


def loss_trend(metrics: list[dict[str, Any]], loss_init: float = math.nan) -> dict[str, float]:
    """first/last/highest window loss, relative drop, the largest rise between consecutive windows
    (from the second window on), and the loss at init (one batch, before any step)."""
    losses = [m["loss"] for m in metrics if "loss" in m]
    if len(losses) < 2:
        return {}
    first, last = losses[0], losses[-1]
    rises = [(b - a) / a for a, b in zip(losses[1:], losses[2:]) if a > 0 and math.isfinite(a) and math.isfinite(b)]
    finite = [v for v in losses if math.isfinite(v)]
    return {"loss_first": first, "loss_last": last, "drop": (first - last) / first if first else 0.0,
            "max_rise": max(rises, default=0.0), "loss_init": loss_init, "loss_peak": max(finite, default=math.nan)}


def update_ratios(records: list[dict[str, Any]], weight_names: set[str]) -> dict[str, float]:
    """median ‖Δw‖/‖w‖ per weight over the sampled steps."""
    per: dict[str, list[float]] = {}
    for r in records:
        for p in r.get("params", []):
            v = p.get("update_ratio")
            if p["name"] in weight_names and v is not None and math.isfinite(v):
                per.setdefault(p["name"], []).append(v)
    return {n: median(v) for n, v in per.items() if v}


def judge_lr(subject: Any, sweep: LRFinderResult | None, trend: dict[str, float], diverged: bool, stop_reason: str,
             ratios: dict[str, float], cfg: DoctorConfig) -> Finding:
    """One verdict on the learning rate (see the module docstring)."""
    lr = subject.lr
    s = sweep.suggestion if sweep is not None else None
    lr_min = lr_at_min(sweep) if sweep is not None else None
    r = lr / s if s else None
    drop = trend.get("drop", math.nan)
    rise = trend.get("max_rise", 0.0)
    med_ratio = median(ratios.values()) if ratios and not subject.adaptive else None
    lo, hi = cfg.update_band
    evidence = {"lr": lr, "optimizer": subject.optimizer_name, "adaptive": subject.adaptive, "suggestion": s,
                "lr_min_loss": lr_min, "ratio": r, "loss_drop": drop, "max_rise": rise, "diverged": diverged,
                "median_update_ratio": med_ratio, "update_band": [lo, hi], "high_warn": cfg.lr_high_warn,
                "high_fail": cfg.lr_high_fail, "low_warn": cfg.lr_low_warn, "low_fail": cfg.lr_low_fail}
    sugg = f"the LR range test's suggestion {s:.3g}" if s else "the LR range test (no suggestion)"
    new_high = s / 3 if s else lr / 10
    new_low = s / 3 if s else lr * 10
    reasons_high: list[str] = []
    severity = "warn"
    if diverged:
        reasons_high.append(f"the short run diverged ({stop_reason.split(';')[0]})")
        severity = "fail"
        evidence["seen_in_run"] = True
    if r is not None and r > cfg.lr_high_warn:
        reasons_high.append(f"optim.lr = {lr:.3g} is {r:.0f}× {sugg}")
        if r > cfg.lr_high_fail:
            severity = "fail"
    init_loss = trend.get("loss_init", math.nan)
    peak = trend.get("loss_peak", math.nan)
    if init_loss == init_loss and peak == peak and peak > cfg.peak_rise * init_loss:
        reasons_high.append(f"the training loss climbed to {peak:.3g}, {peak / init_loss:.1f}× its value at init "
                            f"({init_loss:.3g}), before settling")
        evidence["seen_in_run"] = True
    unstable = rise > cfg.oscillation or (drop == drop and drop < 0)
    if lr_min is not None and lr >= lr_min and unstable:
        reasons_high.append(f"optim.lr is beyond {lr_min:.3g}, where the sweep's loss was lowest, and the loss "
                            f"{'rose' if drop < 0 else 'swung'} in the short run")
    if med_ratio is not None and med_ratio > hi and not drop >= cfg.loss_min_drop:
        reasons_high.append(f"the median update/weight ratio ‖Δw‖/‖w‖ is {med_ratio:.3g} > {hi:g}")
    if reasons_high:
        return Finding("lr_too_high", severity, "the learning rate is too high: " + "; ".join(reasons_high),
                       evidence, None, lr_fix(subject, min(new_high, lr / 3), up=False), stage="learning rate")
    reasons_low: list[str] = []
    severity = "warn"
    if r is not None and r < 1 / cfg.lr_low_fail:
        reasons_low.append(f"optim.lr = {lr:.3g} is {1 / r:.0f}× below {sugg}")
        severity = "fail"
    elif r is not None and r < 1 / cfg.lr_low_warn and not drop >= 0.3:
        reasons_low.append(f"optim.lr = {lr:.3g} is {1 / r:.0f}× below {sugg} and the loss fell only "
                           f"{drop:.0%} in the short run")
    if med_ratio is not None and med_ratio < lo and not drop >= cfg.loss_min_drop:
        reasons_low.append(f"the median update/weight ratio ‖Δw‖/‖w‖ is {med_ratio:.3g} < {lo:g} and the loss "
                           f"fell {drop:.0%}")
    if reasons_low:
        return Finding("lr_too_low", severity, "the learning rate is too low: " + "; ".join(reasons_low),
                       evidence, None, lr_fix(subject, max(new_low, lr * 3), up=True), stage="learning rate")
    if not s:
        return Finding("learning_rate", "info",
                       f"the LR range test gave no suggestion ({sweep.stop_reason if sweep else 'not run'}); "
                       f"optim.lr = {lr:.3g} was judged by the short run only", evidence, stage="learning rate")
    note = "" if subject.adaptive else (f", median ‖Δw‖/‖w‖ {med_ratio:.2g}" if med_ratio is not None else "")
    return passed("learning_rate", f"optim.lr = {lr:.3g} fits {sugg} (ratio {r:.2g}){note}", evidence)


def confirm_lr(subject: Any, verdict: Finding, base: dict[str, float], cfg: DoctorConfig) -> Finding:
    """A verdict that rests on the LR range test alone is tried: the short run again at s/3 and at s
    (the suggestion; those on the prescribed side of optim.lr). The best of them (eval-mode training
    accuracy) becomes the prescription if it fits the training data better than the original run
    (+5 points, or its last-window loss ≤ 90 % of the original's); otherwise the verdict becomes an
    info line — a sweep on a sick setup (shuffled labels, a tiny network) can point anywhere."""
    from trainwell.doctor.subject import evaluate_accuracy

    lr, up = subject.lr, verdict.code == "lr_too_low"
    s = verdict.evidence.get("suggestion")
    options = [verdict.prescription.edits["optim.lr"]]
    if s:
        options = sorted({round_sig(v) for v in (s / 3, s) if (v > lr if up else v < lr)}) or options
    tried: dict[float, tuple[float, float]] = {}
    for new_lr in options:
        r = subject.recipe.model_copy(deep=True)
        r.optim.lr = new_lr
        state = subject.run(cfg.short_steps, cfg, recipe=r, optimizer_changes={"lr": new_lr}).fit()
        losses = [m["loss"] for m in state.records.get("metrics", []) if m.get("split") == "train"]
        acc = math.nan if state.diverged else evaluate_accuracy(state.model, subject.x_train[: cfg.max_eval],
                                                                subject.y_train[: cfg.max_eval])
        tried[new_lr] = (acc, losses[-1] if losses and not state.diverged else math.nan)
    best = max(tried, key=lambda k: tried[k][0] if tried[k][0] == tried[k][0] else -1.0)
    acc, loss = tried[best]
    better = (acc == acc and acc >= base.get("train_accuracy", math.inf) + 0.05) or \
             (loss == loss and loss <= 0.9 * base.get("loss_last", -math.inf))
    evidence = {**verdict.evidence, "tried": {f"{k:g}": list(v) for k, v in tried.items()},
                "train_accuracy": base.get("train_accuracy"), "loss_last": base.get("loss_last")}
    if better:
        return Finding(verdict.code, verdict.severity,
                       verdict.message + f"; at lr {best:g} the short run fits {acc:.0%} of the training data "
                       f"(vs {base.get('train_accuracy', math.nan):.0%})", evidence, verdict.where,
                       lr_fix(subject, best, up=up), stage=verdict.stage)
    return Finding("learning_rate", "info",
                   f"the LR range test suggests {verdict.code.replace('_', ' ')} ({verdict.message.split(': ', 1)[-1]}), "
                   f"but short runs at lr {', '.join(f'{k:g}' for k in tried)} did not fit better (best training "
                   f"accuracy {acc:.1%} vs {base.get('train_accuracy', math.nan):.1%}): the learning rate is not what "
                   "holds this setup back", evidence, stage=verdict.stage)


__all__ = ["confirm_lr", "judge_lr", "loss_trend", "lr_at_min", "run_lr_find", "update_ratios"]
