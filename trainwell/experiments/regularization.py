"""Regularization shrinks the train/validation gap (lectures: dropout, L2, augmentation, mixup).

Setting: a deliberately small training subset of MNIST-1D (default 400 examples) and an MLP wide
enough to memorise it (40→512→512→10). Each variant switches on ONE regularizer; everything else
(seed, steps, optimizer, schedule) is the same. For each we measure training accuracy (eval mode,
on the training subset), validation accuracy, and the gap between them, as the median over seeds.
Claim checked: every regularizer's median gap is lower than the unregularized one.
"""
from __future__ import annotations

import statistics
from typing import Any

from trainwell.config import recipe_from_dict
from trainwell.experiments.result import ExperimentResult
from trainwell.assemble import train_recipe

BASE: dict[str, Any] = {
    "name": "reg-gap",
    "data": {"name": "mnist1d", "val_fraction": 0.2, "preprocess": ["standardize"], "train_subset": 400},
    "model": {"name": "mlp", "widths": [512, 512]},
    "optim": {"name": "adam", "lr": 1e-3},
    "schedule": {"name": "cosine"},
    "train": {"steps": 1500, "batch_size": 50, "checkpoint": False, "log_every": 50},
}

# one regularizer each: (label, overrides)
VARIANTS: list[tuple[str, list[str]]] = [
    ("none", []),
    ("dropout 0.5", ["model.dropout=0.5"]),
    ("L2 penalty 1e-2 (in the loss)", ["optim.l2=1e-2"]),
    ("augmentation (shift + noise)", ['augment.train=[{name="shift", max_shift=4}, {name="gaussian_noise", std=0.1}]']),
    ("mixup (alpha 1.0)", ['augment.mix={name="mixup", alpha=1.0}']),
]


def run(quick: bool = False, seeds: int = 3, progress: bool = False, out_dir=None) -> ExperimentResult:
    steps = 300 if quick else BASE["train"]["steps"]
    seeds = 1 if quick else seeds
    rows, gaps = [], {}
    import tempfile
    from pathlib import Path

    root = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="tw-reg-"))
    for label, overrides in VARIANTS:
        results = []
        for seed in range(seeds):
            recipe = recipe_from_dict(BASE, "regularization", [*overrides, f"train.steps={steps}", f"seed={seed}"])
            s = train_recipe(recipe, root / f"{label.split()[0]}-{seed}", progress=progress, overwrite=True)
            results.append((s["train_eval_accuracy"], s["val_accuracy"]))
        train_acc = statistics.median(r[0] for r in results)
        val_acc = statistics.median(r[1] for r in results)
        gap = statistics.median(r[0] - r[1] for r in results)
        gaps[label] = gap
        rows.append([label, round(100 * train_acc, 1), round(100 * val_acc, 1), round(100 * gap, 1)])
    base_gap = gaps["none"]
    smaller = {k: g < base_gap for k, g in gaps.items() if k != "none"}
    passed = all(smaller.values())
    worse = [k for k, ok in smaller.items() if not ok]
    verdict = (
        f"every regularizer lowers the train−val gap below {100 * base_gap:.1f} points"
        if passed
        else f"gap not lowered by: {', '.join(worse)} (baseline gap {100 * base_gap:.1f} points)"
    )
    return ExperimentResult(
        name="regularization",
        claim="Regularization (dropout, L2, augmentation, mixup) shrinks the gap between "
        "training and validation accuracy on a small training set.",
        columns=["regularizer", "train acc %", "val acc %", "gap (points)"],
        rows=rows,
        verdict=verdict,
        passed=passed,
        details={"seeds": seeds, "steps": steps, "train_subset": BASE["data"]["train_subset"]},
    )
