"""What the short run shows (babysitting step 6), as pure functions of its records and scores.

    diverged             the training loss became NaN/Inf → fail (a symptom: see the LR verdict)
    loss_not_decreasing  training loss of the last log window vs the first: drop < loss_min_drop (5 %) → warn
    loss_unstable        the loss rose by > oscillation (100 %: it doubled) between two log windows → warn
    at_chance            validation accuracy ≤ p + 3·√(p(1 − p)/n) with p the MAJORITY-class rate of the
                         validation labels (`trainwell.train.tasks.majority_rate`, not 1/C) → fail
    underfitting         the training accuracy covers < underfit_acc (90 %) of the way from chance to 100 %
                         → info (the comparison runs of `trainwell.doctor.compare` name the cause)
    overfitting          train − val accuracy > gap_warn (30 points) → info (the normal state of a model
                         trained long on little data: regularization, augmentation or early stopping)
    class_imbalance      largest/smallest class count ≥ imbalance_ratio (4) → info; → warn when the model
                         is at chance or its balanced accuracy (mean per-class recall) trails its accuracy
                         by > imbalance_recall_gap (15 points): the minority classes are being ignored
                         (info again once the loss weights the classes: train.class_weights)
    clipping_every_step  the gradient norm (pre-clip, logged per window) exceeded the clip threshold in
                         ≥ clip_frac (90 %) of the windows by a median factor ≥ clip_ratio (3) → warn
                         (SGD family: the step is lr·threshold/‖g‖ — a much smaller, normalized LR);
                         info for Adam-family optimizers (they normalize the step anyway)
    schedule_zero_early  the schedule's factor, after its peak, falls below schedule_floor (1 %) of the peak
                         before schedule_early (50 %) of the run and stays there → warn: the rest of the run
                         trains with a learning rate of ~0
"""
from __future__ import annotations

import math
from statistics import median
from typing import Any

import torch

from trainwell.doctor.config import DoctorConfig
from trainwell.doctor.finding import Finding, Prescription, passed
from trainwell.doctor.prescribe import round_sig


def check_loss(trend: dict[str, float], diverged: bool, stop_reason: str, cfg: DoctorConfig) -> list[Finding]:
    if diverged:
        return [Finding("diverged", "fail", f"the short run diverged: {stop_reason.split('; ')[0]}",
                        {"diverged": True, **trend}, stage="short run")]
    if not trend:
        return []
    out = []
    l0, l1, drop = trend["loss_first"], trend["loss_last"], trend["drop"]
    evidence = {**trend, "min_drop": cfg.loss_min_drop, "oscillation": cfg.oscillation}
    if drop >= cfg.loss_min_drop:
        out.append(passed("loss_not_decreasing", f"training loss fell {l0:.3f} → {l1:.3f} ({drop:.0%})", evidence))
    else:
        out.append(Finding("loss_not_decreasing", "warn",
                           f"the training loss is not decreasing: {l0:.3f} → {l1:.3f} ({drop:+.1%} < "
                           f"{cfg.loss_min_drop:.0%}) in the short run", evidence, stage="short run"))
    if trend["max_rise"] > cfg.oscillation:
        out.append(Finding("loss_unstable", "warn",
                           f"the training loss jumps: it rose by {trend['max_rise']:.0%} between two log windows "
                           f"(> {cfg.oscillation:.0%})", evidence, stage="short run"))
    return out


def chance_upper(p: float, n: int, sigmas: float) -> float:
    """p + sigmas·√(p(1 − p)/n): the accuracy a model that ignores its input reaches at most (3σ)."""
    return p + sigmas * math.sqrt(p * (1 - p) / max(n, 1))


def balanced_accuracy(pred: torch.Tensor, y: torch.Tensor, num_classes: int) -> float:
    """Mean over the classes present in y of the recall (correct / count)."""
    y = y.long()
    ok = (y >= 0) & (y < num_classes)  # labels outside 0..C−1 count in no class
    counts = torch.bincount(y[ok], minlength=num_classes)
    hits = torch.bincount(y[ok & (pred == y)], minlength=num_classes)
    hits, counts = torch.stack([hits, counts]).tolist()  # one transfer
    recalls = [h / n for h, n in zip(hits, counts) if n]
    return sum(recalls) / len(recalls) if recalls else math.nan


def check_generalization(scores: dict[str, Any], cfg: DoctorConfig) -> list[Finding]:
    """at_chance, underfitting, overfitting from the end-of-run scores (see the module docstring)."""
    tr, va, n = scores.get("train_accuracy", math.nan), scores.get("val_accuracy", math.nan), scores.get("n_val", 0)
    p = scores["majority_rate"]
    out: list[Finding] = []
    judged, m = (va, n) if va == va and n else (tr, scores.get("n_train", 0))
    split = "validation" if va == va and n else "training"
    bound = chance_upper(p, m, cfg.chance_sigmas)
    evidence = {"train_accuracy": tr, "val_accuracy": va, "majority_rate": p, "chance_upper": bound, "n": m,
                "balanced_accuracy": scores.get("balanced_accuracy")}
    if judged <= bound:
        out.append(Finding("at_chance", "fail",
                           f"{split} accuracy {judged:.1%} is at chance after the short run: ≤ {bound:.1%} = the "
                           f"majority-class rate {p:.1%} + {cfg.chance_sigmas:g}σ over {m} examples (train "
                           f"{tr:.1%}) — nothing that generalizes was learned", evidence, stage="short run"))
    else:
        out.append(passed("at_chance", f"{split} accuracy {judged:.1%} above chance ({bound:.1%}, majority rate "
                          f"{p:.1%})", evidence))
    fit = (tr - p) / (1 - p) if p < 1 else math.nan
    evidence = {**evidence, "fit_level": fit, "underfit_acc": cfg.underfit_acc}
    if fit == fit and fit < cfg.underfit_acc and judged > bound:
        out.append(Finding("underfitting", "info",
                           f"training accuracy {tr:.1%} after the short run: {fit:.0%} of the way from chance "
                           f"({p:.1%}) to 100 %", evidence, stage="short run"))
    if va == va and tr - va > cfg.gap_warn:
        out.append(Finding("overfitting", "info",
                           f"train accuracy {tr:.1%} vs validation {va:.1%}: a gap of {tr - va:.0%} — the model "
                           "memorizes its training data", evidence, None,
                           Prescription("regularize (weight decay, dropout, augmentation), get more data, or stop "
                                        "earlier"), stage="short run"))
    return out


def check_imbalance(counts: list[int], scores: dict[str, Any], at_chance: bool, cfg: DoctorConfig,
                    weighted: bool = False) -> Finding:
    present = [c for c in counts if c > 0]
    if len(present) < 2:
        return passed("class_imbalance", "one class only")
    ratio = max(present) / min(present)
    acc, bal = scores.get("val_accuracy", math.nan), scores.get("balanced_accuracy", math.nan)
    if acc != acc:
        acc = scores.get("train_accuracy", math.nan)
    evidence = {"class_counts": counts, "ratio": ratio, "threshold": cfg.imbalance_ratio, "accuracy": acc,
                "balanced_accuracy": bal, "majority_rate": scores.get("majority_rate")}
    if ratio < cfg.imbalance_ratio:
        return passed("class_imbalance", f"classes balanced enough (largest/smallest {ratio:.2g})", evidence)
    fix = Prescription("weight the loss by inverse class frequency (or resample to balance the batches)",
                       edits={"train.class_weights": "balanced"},
                       code="nn.CrossEntropyLoss(weight=len(y) / (C * torch.bincount(y)))",
                       direction={"train.class_weights": "set"})
    ignored = at_chance or (bal == bal and acc == acc and acc - bal > cfg.imbalance_recall_gap)
    if weighted:
        return Finding("class_imbalance", "info", f"the classes are imbalanced ({ratio:.0f}:1) and the loss weights "
                       f"them (train.class_weights): balanced accuracy {bal:.1%}, accuracy {acc:.1%}", evidence,
                       stage="short run")
    message = (f"the classes are imbalanced: the largest has {ratio:.0f}× the examples of the smallest (majority "
               f"rate {scores.get('majority_rate', math.nan):.1%})")
    if ignored:
        return Finding("class_imbalance", "warn",
                       message + f"; the model predicts the frequent classes — accuracy {acc:.1%} but balanced "
                       f"accuracy {bal:.1%} (mean per-class recall): the rare classes are ignored",
                       evidence, None, fix, stage="short run")
    return Finding("class_imbalance", "info", message + f"; balanced accuracy {bal:.1%} vs accuracy {acc:.1%}",
                   evidence, None, fix, stage="short run")


def check_clipping(metrics: list[dict[str, Any]], clip: float | None, adaptive: bool, key: str,
                   cfg: DoctorConfig) -> Finding:
    if clip is None:
        return passed("clipping_every_step", "no gradient clipping")
    norms = [m["grad_norm"] for m in metrics if m.get("grad_norm") is not None and math.isfinite(m["grad_norm"])]
    if not norms:
        return passed("clipping_every_step", "gradient norms not logged")
    frac = sum(g > clip for g in norms) / len(norms)
    ratio = median(norms) / clip
    evidence = {"clip": clip, "clipped_fraction": frac, "median_norm": median(norms), "median_ratio": ratio,
                "windows": len(norms), "clip_frac": cfg.clip_frac, "clip_ratio": cfg.clip_ratio}
    if frac < cfg.clip_frac or ratio < cfg.clip_ratio:
        return passed("clipping_every_step", f"gradient clipping at {clip:g} acts on {frac:.0%} of the logged steps "
                      f"(median norm {median(norms):.3g})", evidence)
    new = round_sig(2 * median(norms))
    fix = Prescription(f"clip only outliers: raise the threshold to about twice the typical norm ({new:g}), or drop "
                       "the clipping", edits={key: new},
                       code=f"torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm={new:g})",
                       direction={key: "up"})
    message = (f"gradient clipping at {clip:g} acts on {frac:.0%} of the logged steps, the gradient norm being "
               f"{ratio:.0f}× the threshold (median {median(norms):.3g})")
    if adaptive:
        return Finding("clipping_every_step", "info",
                       message + ": with an Adam-family optimizer the step is normalized anyway, so the clipping "
                       "does little but costs a pass over the gradients", evidence, None, fix, stage="short run")
    return Finding("clipping_every_step", "warn",
                   message + f": every step is rescaled by ~1/{ratio:.0f}, so the optimizer runs with a normalized "
                   "gradient and an effective learning rate far below optim.lr — the clipping is the learning rate",
                   evidence, None, fix, stage="short run")


def schedule_factors(spec: Any, total: int) -> list[float]:
    from trainwell.optim import build_schedule

    s = build_schedule(spec)
    return [s(t, total) for t in range(total)]


def check_schedule(spec: Any, total: int, cfg: DoctorConfig, kind: str) -> Finding:
    """schedule_zero_early from the schedule's closed form over the recipe's own total steps."""
    try:
        factors = schedule_factors(spec, total)
    except Exception:  # noqa: BLE001 — a schedule the registry cannot rebuild here: not judged
        return passed("schedule_zero_early", "schedule not checked")
    name = spec.get("name", "constant") if isinstance(spec, dict) else str(spec)
    peak_at = max(range(len(factors)), key=factors.__getitem__)
    peak = factors[peak_at]
    floor = cfg.schedule_floor * peak
    low_from = None
    tail_max = -math.inf
    for t in range(len(factors) - 1, peak_at, -1):
        tail_max = max(tail_max, factors[t])
        if tail_max < floor:
            low_from = t
        else:
            break
    evidence = {"schedule": spec, "total_steps": total, "peak_step": peak_at, "below_floor_from": low_from,
                "floor": cfg.schedule_floor, "early": cfg.schedule_early}
    if low_from is None or low_from >= cfg.schedule_early * total:
        return passed("schedule_zero_early", f"the {name} schedule keeps a usable learning rate until "
                      f"{(low_from or total) / total:.0%} of the run", evidence)
    fix = Prescription("use a schedule that decays over the whole run", edits={"schedule": {"name": "cosine"}},
                       code="torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)",
                       direction={"schedule": "set"})
    return Finding("schedule_zero_early", "warn",
                   f"the {name} schedule brings the learning rate below {cfg.schedule_floor:.0%} of its peak at step "
                   f"{low_from} of {total} ({low_from / total:.0%} of the run) and keeps it there: the remaining "
                   f"{1 - low_from / total:.0%} of the run barely trains", evidence, None, fix, stage="schedule")


__all__ = ["balanced_accuracy", "chance_upper", "check_clipping", "check_generalization", "check_imbalance",
           "check_loss", "check_schedule", "schedule_factors"]
