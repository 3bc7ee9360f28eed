"""Under-fitting: which cause? Comparison runs, only when the short run did not fit the training data.

A model that stays far from 100 % training accuracy is either held back (too much
regularization) or cannot represent the data (too little capacity). Two controlled comparisons
tell them apart, each on a copy and built through the assembly like the short run:

    over_regularization   the same short run with every regularizer off (weight decay, L1/L2,
                          dropout-family rates → 0, label smoothing, augmentation, mixing): if its
                          training accuracy (eval mode) beats the original's by ≥ cfg.reg_gain (15 points)
                          while the original covered < cfg.reg_fit (60 %) of the way from chance to 100 %
                          → warn. With several regularizers on, each is switched off alone in turn and
                          the one whose removal recovers most is named (and lowered, not removed).
    underfitting_capacity the lectures' overfitting test at a larger scale: with regularization off,
                          full-batch Adam (lr 3e-3, and 3e-2 if that fails) must memorize capacity_examples
                          (200) training examples to ≥ capacity_min_acc (90 %) within capacity_steps (300); a
                          network that cannot is too small for the data → warn (prescription: more units).

Both compare with the same budget, so "slower" is not mistaken for "cannot": a healthy regularized
model that fits slowly still covers more than 60 % of the way, and removing its regularization
does not buy 15 points.
"""
from __future__ import annotations

import math
from typing import Any

from trainwell.doctor.config import DoctorConfig
from trainwell.doctor.finding import Finding, passed
from trainwell.doctor.prescribe import regularizer_fix, widen
from trainwell.doctor.probe import dropout_off, dropout_rates
from trainwell.doctor.subject import Subject, evaluate_accuracy

def active_regularizers(subject: Subject) -> dict[str, Any]:
    """name → strength of every regularizer that is on."""
    out: dict[str, Any] = {}
    if subject.weight_decay > 0:
        out["weight_decay"] = subject.weight_decay
    rates = dropout_rates(subject.model)
    if rates:
        out["dropout"] = max(rates.values())
    if subject.kind == "recipe":
        r = subject.recipe
        if r.optim.l1:
            out["l1"] = r.optim.l1
        if r.optim.l2:
            out["l2"] = r.optim.l2
        if r.train.label_smoothing:
            out["label_smoothing"] = r.train.label_smoothing
        if r.augment.train:
            out["augment"] = len(r.augment.train)
        if r.augment.mix is not None and r.augment.mix_prob > 0:
            out["mix"] = r.augment.mix_prob
    return out


def fit_without(subject: Subject, cfg: DoctorConfig, off: set[str]) -> float:
    """Training accuracy (eval mode, the training sample) after the short run with `off` switched off."""
    model = subject.model
    if "dropout" in off:
        model = dropout_off(model)[0]
    r = subject.recipe.model_copy(deep=True)
    changes: dict[str, Any] = {}
    if "weight_decay" in off:
        r.optim.weight_decay = 0.0
        changes["weight_decay"] = 0.0
    if "l1" in off:
        r.optim.l1 = 0.0
    if "l2" in off:
        r.optim.l2 = 0.0
    if "label_smoothing" in off:
        r.train.label_smoothing = 0.0
    if "augment" in off:
        r.augment.train = []
    if "mix" in off:
        r.augment.mix = None
    state = subject.run(cfg.short_steps, cfg, model=model, recipe=r, optimizer_changes=changes or None).fit()
    if state.diverged:
        return math.nan
    return evaluate_accuracy(state.model, subject.x_train, subject.y_train)


def fit_level(acc: float, chance: float) -> float:
    return (acc - chance) / (1 - chance) if chance < 1 else math.nan


def check_over_regularization(subject: Subject, base_acc: float, chance: float, cfg: DoctorConfig) -> Finding:
    regs = active_regularizers(subject)
    if not regs:
        return passed("over_regularization", "no regularization to compare against")
    base_fit = fit_level(base_acc, chance)
    off_acc = fit_without(subject, cfg, set(regs))
    gain = off_acc - base_acc
    evidence = {"regularizers": regs, "train_accuracy": base_acc, "train_accuracy_without": off_acc, "gain": gain,
                "fit_level": base_fit, "min_gain": cfg.reg_gain, "max_fit": cfg.reg_fit}
    if not (gain == gain and gain >= cfg.reg_gain and base_fit < cfg.reg_fit):
        return passed("over_regularization", f"without regularization the short run fits {off_acc:.1%} of the "
                      f"training data vs {base_acc:.1%} with it: the regularization is not what holds it back",
                      evidence)
    culprit = next(iter(regs))
    if len(regs) > 1:
        alone = {name: fit_without(subject, cfg, {name}) for name in regs}
        evidence["train_accuracy_without_each"] = alone
        culprit = max(alone, key=lambda k: alone[k] if alone[k] == alone[k] else -1.0)
    value = regs[culprit]
    return Finding("over_regularization", "warn",
                   f"too much regularization ({culprit} = {value:g}): the short run fits only {base_acc:.1%} of its "
                   f"training data, {off_acc:.1%} with the regularization off (+{gain:.0%}) — the model is held back, "
                   f"not too small", evidence, culprit, regularizer_fix(subject, culprit, value), stage="comparison")


def check_capacity(subject: Subject, cfg: DoctorConfig) -> Finding:
    from trainwell.doctor.overfit import overfit_tiny

    n = min(cfg.capacity_examples, len(subject.x_train))
    result = None
    for lr in (cfg.capacity_lr, 10 * cfg.capacity_lr):  # a small network may want a larger step: the best of two
        tried = overfit_tiny(subject.model, subject.x_train[:n], subject.y_train[:n], steps=cfg.capacity_steps,
                             lr=lr, check_every=20, seed=cfg.seed, loss_fn=subject.plain_loss_fn())
        if result is None or tried.accuracy > result[1].accuracy:
            result = (lr, tried)
        if tried.accuracy >= cfg.capacity_min_acc:
            break
    lr, result = result
    evidence = {"examples": n, "accuracy": result.accuracy, "steps": result.steps, "min_accuracy": cfg.capacity_min_acc,
                "lr": lr}
    if result.accuracy >= cfg.capacity_min_acc:
        return passed("underfitting_capacity", f"with regularization off the model memorizes {result.accuracy:.0%} "
                      f"of {n} training examples: it has the capacity", evidence)
    return Finding("underfitting_capacity", "warn",
                   f"too little capacity: with regularization off, {result.steps} full-batch Adam steps (lr {lr:g}) memorize only "
                   f"{result.accuracy:.0%} of {n} training examples (a network with enough units reaches "
                   f"≥ {cfg.capacity_min_acc:.0%}) — the model cannot represent the data", evidence, None,
                   widen(subject), stage="comparison")


__all__ = ["active_regularizers", "check_capacity", "check_over_regularization",
           "fit_level", "fit_without"]
