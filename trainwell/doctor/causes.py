"""Causal order: a finding that explains others comes first and subordinates them.

Faults have causes and symptoms. Unnormalized inputs make a learning rate look too high, saturate
tanh units and kill ReLUs; a softmax before a cross-entropy makes the loss crawl, which looks like
a learning rate that is too low. Reporting the symptoms next to the cause (or worse, prescribing
for them: "lower the LR" and "raise the LR" in one report) sends people down the wrong path. So:

1. `EXPLAINS[root]` lists the codes a root can cause. When a root and one of its symptoms are
   both problems (warn/fail), the symptom gets `explained_by = root` and moves under it.
2. Problems are ordered by `ORDER` (data validity → data preparation → output and loss wiring →
   model structure and init → batches → optimization settings → regularization → capacity →
   generalization → plain symptoms), then by severity. The first problem that nothing explains
   is the diagnosis (`top`). A problem that only appeared during training (evidence "when" =
   "end": units that died, activations that blew up) is a symptom: it explains nothing, and when
   nothing in the table explains it, it goes under the first cause found (if there is one).
3. No two opposite prescriptions: when two unexplained problems move the same recipe key in
   opposite directions (`Prescription.direction`), the later one (lower in `ORDER`) is
   subordinated to the earlier — its evidence stays, its prescription is not offered.

`arrange` is a pure function of the findings (it returns new objects; the inputs are unchanged).

Example:
    >>> fs = [Finding("lr_too_high", "warn", "..."), Finding("inputs_unnormalized", "warn", "...")]
    >>> [(f.code, f.explained_by) for f in arrange(fs)]
    [('inputs_unnormalized', None), ('lr_too_high', 'inputs_unnormalized')]
"""
from __future__ import annotations

from dataclasses import replace

from trainwell.doctor.finding import RANK, Finding

# symptoms: what faults look like from the outside (no prescription of their own beyond "see above")
SYMPTOMS = ("initial_loss", "overfit_tiny", "loss_not_decreasing", "diverged", "loss_unstable", "at_chance",
            "vanishing_gradients", "exploding_gradients", "underfitting", "update_ratio", "regularization",
            "eval_batch_stats", "batchnorm_mode_gap")

_TRAINING = {"initial_loss", "overfit_tiny", "loss_not_decreasing", "diverged", "loss_unstable", "at_chance",
             "underfitting", "update_ratio", "lr_too_high", "lr_too_low", "vanishing_gradients",
             "exploding_gradients", "dead_units", "activations_saturated", "activations_exploded",
             "activations_collapsed", "underfitting_capacity", "labels_unlearnable", "over_regularization",
             "overfitting", "batchnorm_mode_gap", "regularization", "class_imbalance"}
_ALL = _TRAINING | {"feature_scale", "inputs_unnormalized", "unshuffled_batches", "batchnorm_small_batch",
                    "clipping_every_step", "schedule_zero_early", "capacity_bottleneck", "no_nonlinearity",
                    "symmetric_init", "frozen_parameters", "output_probabilities", "output_nonnegative",
                    "loss_mismatch", "eval_batch_stats", "duplicates_across_splits", "preprocessing_leak"}
_INIT_SYMPTOMS = {"initial_loss", "overfit_tiny", "loss_not_decreasing", "at_chance", "underfitting",
                  "vanishing_gradients", "exploding_gradients", "lr_too_high", "lr_too_low", "update_ratio",
                  "underfitting_capacity", "labels_unlearnable", "diverged", "loss_unstable", "regularization",
                  "over_regularization", "batchnorm_mode_gap"}

EXPLAINS: dict[str, set[str]] = {
    # data validity: nothing downstream can be trusted
    "nonfinite_inputs": _ALL,
    "labels_out_of_range": _ALL,
    "labels_off_by_one": {"initial_loss", "class_imbalance", "at_chance"},
    # leakage explains nothing (it flatters the figures) and nothing explains it
    "preprocessing_leak": set(),
    "duplicates_across_splits": {"overfitting"},
    # data preparation
    "inputs_unnormalized": _TRAINING | {"feature_scale", "clipping_every_step"},
    "feature_scale": _TRAINING,
    # output layer and loss wiring
    "output_probabilities": _TRAINING | {"output_nonnegative"},
    "output_nonnegative": _TRAINING,
    "loss_mismatch": _TRAINING | {"output_probabilities", "output_nonnegative"},
    # structure and init
    "symmetric_init": _TRAINING | {"capacity_bottleneck", "no_nonlinearity", "frozen_parameters", "output_nonnegative",
                                   "output_probabilities"},
    "frozen_parameters": _TRAINING,
    "no_nonlinearity": _TRAINING | {"capacity_bottleneck"},
    "activations_collapsed": _INIT_SYMPTOMS | {"dead_units", "activations_saturated"},
    "activations_saturated": _INIT_SYMPTOMS | {"activations_collapsed"},
    "activations_exploded": _INIT_SYMPTOMS | {"dead_units", "activations_saturated"},
    "dead_units": _INIT_SYMPTOMS,
    "capacity_bottleneck": {"underfitting_capacity", "underfitting", "loss_not_decreasing", "overfit_tiny", "dead_units",
                            "at_chance", "lr_too_low", "lr_too_high", "labels_unlearnable", "update_ratio"},
    # batches
    "unshuffled_batches": _TRAINING - {"class_imbalance"} | {"batchnorm_small_batch"},
    "batchnorm_small_batch": {"batchnorm_mode_gap", "eval_batch_stats", "loss_unstable", "lr_too_high",
                              "at_chance", "underfitting", "overfitting", "loss_not_decreasing", "lr_too_low",
                              "update_ratio", "labels_unlearnable", "diverged", "over_regularization"},
    "eval_batch_stats": {"batchnorm_mode_gap", "at_chance", "overfitting"},
    # optimization settings
    "clipping_every_step": {"lr_too_low", "loss_not_decreasing", "underfitting", "update_ratio", "at_chance",
                            "underfitting_capacity", "labels_unlearnable"},
    "schedule_zero_early": {"lr_too_low", "loss_not_decreasing", "underfitting", "update_ratio", "at_chance",
                            "underfitting_capacity", "labels_unlearnable"},
    "lr_too_high": {"diverged", "loss_unstable", "dead_units", "activations_saturated", "activations_exploded",
                    "exploding_gradients", "update_ratio", "loss_not_decreasing", "at_chance", "underfitting",
                    "overfit_tiny", "labels_unlearnable", "underfitting_capacity", "batchnorm_mode_gap"},
    "lr_too_low": {"loss_not_decreasing", "underfitting", "update_ratio", "at_chance", "overfit_tiny",
                   "labels_unlearnable", "underfitting_capacity"},
    # regularization
    "over_regularization": {"lr_too_low", "lr_too_high", "loss_not_decreasing", "underfitting", "at_chance",
                            "update_ratio", "underfitting_capacity", "labels_unlearnable", "regularization",
                            "activations_collapsed", "dead_units"},
    # capacity, labels, generalization
    "underfitting_capacity": {"underfitting", "loss_not_decreasing", "at_chance", "lr_too_low", "update_ratio",
                              "overfit_tiny"},
    "labels_unlearnable": {"at_chance", "underfitting", "loss_not_decreasing", "overfitting", "lr_too_low",
                           "lr_too_high", "update_ratio", "loss_unstable", "class_imbalance"},
    "class_imbalance": {"at_chance", "initial_loss", "labels_unlearnable", "overfitting"},
    "overfitting": set(),
}

# the order in which causes are told (roots of roots first)
ORDER = [
    "nonfinite_inputs", "labels_out_of_range", "labels_off_by_one", "preprocessing_leak", "duplicates_across_splits",
    "inputs_unnormalized", "feature_scale",
    "loss_mismatch", "output_probabilities", "output_nonnegative",
    "symmetric_init", "frozen_parameters", "no_nonlinearity", "capacity_bottleneck",
    "activations_exploded", "activations_saturated", "activations_collapsed", "dead_units",
    "unshuffled_batches", "batchnorm_small_batch", "eval_batch_stats",
    "clipping_every_step", "schedule_zero_early", "over_regularization", "underfitting_capacity", "lr_too_high",
    "lr_too_low", "class_imbalance", "labels_unlearnable", "overfitting",
    *SYMPTOMS,
]
_POS = {code: i for i, code in enumerate(ORDER)}
OPPOSITE = {("up", "down"), ("down", "up"), ("off", "up"), ("up", "off")}


def position(code: str) -> int:
    return _POS.get(code, len(ORDER))


def explains(root: str, symptom: str) -> bool:
    return symptom in EXPLAINS.get(root, ()) and root != symptom


def _explains(f: Finding, g: Finding) -> bool:
    """f explains g: by the table — except that a finding that only appeared during training
    (evidence "when" = "end": units that died, saturated at the end) is a symptom and explains nothing."""
    if f.evidence.get("when") == "end":
        return False
    return explains(f.code, g.code)


def _conflict(a: Finding, b: Finding) -> bool:
    if a.prescription is None or b.prescription is None:
        return False
    da, db = a.prescription.direction, b.prescription.direction
    return any((da[k], db[k]) in OPPOSITE for k in set(da) & set(db))


def arrange(findings: list[Finding]) -> list[Finding]:
    """Problems in causal order with symptoms subordinated, then info, then passes (see module doc).

    g is explained by the first f (in `ORDER`) that explains it, unless g explains f as well and
    comes earlier in `ORDER` (mutual explanations are settled by the order); then two unexplained
    problems with opposite prescriptions: the later one is subordinated; finally every pointer is
    followed to its first cause (a cycle is broken at its earliest member)."""
    out = [replace(f) for f in findings]
    problems = sorted((f for f in out if f.problem), key=lambda f: (position(f.code), -RANK[f.severity]))
    for f in problems:
        f.explained_by = None
    parent: dict[int, Finding] = {}
    for g in problems:
        for f in problems:
            if f is g or f.code == g.code or not _explains(f, g):
                continue
            if _explains(g, f) and position(g.code) < position(f.code):
                continue
            parent[id(g)] = f
            break
    for i, f in enumerate(problems):
        if id(f) in parent:
            continue
        for g in problems[i + 1:]:
            if id(g) not in parent and g.code != f.code and _conflict(f, g):
                parent[id(g)] = f
    for f in problems:  # follow the pointers to the first cause
        chain, node = [f], parent.get(id(f))
        while node is not None and all(node is not c for c in chain):
            chain.append(node)
            node = parent.get(id(node))
        if node is not None:  # a cycle: its earliest member is a root
            cycle = chain[next(i for i, c in enumerate(chain) if c is node):]
            first = min(cycle, key=lambda c: position(c.code))
            parent.pop(id(first), None)
    first_root = next((f for f in problems if id(f) not in parent and f.evidence.get("when") != "end"), None)
    for f in problems:  # what only appeared during training is a symptom of the first cause, if there is one
        if f.evidence.get("when") == "end" and id(f) not in parent and first_root is not None:
            parent[id(f)] = first_root
    for f in problems:
        node, seen = parent.get(id(f)), set()
        while node is not None and id(node) in parent and id(node) not in seen:
            seen.add(id(node))
            node = parent[id(node)]
        f.explained_by = node.code if node is not None else None
    roots = [f for f in problems if f.explained_by is None]
    ordered: list[Finding] = []
    for root in roots:
        if root in ordered:
            continue
        same = [r for r in roots if r.code == root.code]
        ordered += same
        ordered += [g for g in problems if g.explained_by == root.code and g not in ordered]
    ordered += [g for g in problems if g not in ordered]
    rest = [f for f in out if not f.problem]
    return ordered + [f for f in rest if f.severity == "info"] + [f for f in rest if f.severity == "pass"]


def top(findings: list[Finding]) -> Finding | None:
    """The diagnosis: the first problem that nothing explains (findings as `arrange` returns them)."""
    return next((f for f in findings if f.problem and f.explained_by is None), None)


__all__ = ["EXPLAINS", "ORDER", "SYMPTOMS", "arrange", "explains", "position", "top"]
