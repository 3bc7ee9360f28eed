"""BatchNorm allows higher learning rates and makes training robust to the init scale (Ioffe &
Szegedy 2015; CS231n lecture 6).

Setting: a ReLU MLP with 6 hidden layers of 128 on MNIST-1D, with and without BatchNorm after
each Linear; a grid of learning rates × init scales, where the init is Kaiming times a factor k
(std = k·√(2/fan_in): k = 1 is Kaiming, 0.25 too small, 4 too large); SGD + momentum 0.9,
batch 64. Each cell is the final validation accuracy (median over seeds; "div" when the loss
became NaN/Inf). A cell "trains" when it reaches 70% of the best cell's accuracy.
Claims checked: with BatchNorm more cells train, at a higher largest LR, and at every init scale.
"""
from __future__ import annotations

import math

from trainwell.experiments import figures
from trainwell.experiments.budget import Budget
from trainwell.experiments.common import median, mnist1d, train_curve
from trainwell.experiments.result import ExperimentResult

SCALES = (0.25, 1.0, 4.0)
TRAINS = 0.7


def run(budget: str = "full", progress: bool = False, out_dir=None) -> ExperimentResult:
    b = Budget.of(budget)
    steps = b.pick(smoke=10, quick=200, full=400)
    seeds = b.pick(smoke=1, quick=1, full=3)
    lrs = b.pick(smoke=[0.03], quick=[0.003, 0.03, 0.3, 3.0], full=[0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0])
    data = mnist1d()
    cells: dict[tuple[str, float, float], list[float]] = {}
    for norm in ("none", "batch"):
        for k in SCALES:
            for lr in lrs:
                vals = []
                for seed in range(seeds):
                    c = train_curve({"name": "mlp", "widths": [128] * 6, "norm": norm,
                                     "init": {"name": "kaiming", "gain": math.sqrt(2) * k}}, data, steps=steps, seed=seed,
                                    optimizer="momentum", lr=lr, batch_size=64, log_every=20, label=f"{norm} k{k} lr{lr}")
                    vals.append(0.0 if c.diverged else c.final_val_accuracy)
                cells[(norm, k, lr)] = vals
    acc = {key: median(v) for key, v in cells.items()}
    best = max(acc.values())
    trains = {key: a >= TRAINS * best for key, a in acc.items()}
    count = {n: sum(trains[(n, k, lr)] for k in SCALES for lr in lrs) for n in ("none", "batch")}
    top_lr = {n: max((lr for k in SCALES for lr in lrs if trains[(n, k, lr)]), default=0.0) for n in ("none", "batch")}
    every_scale = {n: all(any(trains[(n, k, lr)] for lr in lrs) for k in SCALES) for n in ("none", "batch")}
    passed = count["batch"] > count["none"] and top_lr["batch"] > top_lr["none"] and every_scale["batch"]

    def show(norm: str, k: float, lr: float) -> str:
        vals = cells[(norm, k, lr)]
        if all(v == 0.0 for v in vals):
            return "div"
        spread = f" [{100 * min(vals):.0f}–{100 * max(vals):.0f}]" if len(vals) > 1 else ""
        return f"{100 * acc[(norm, k, lr)]:.0f}{spread}" + ("" if trains[(norm, k, lr)] else " ✗")

    rows = [[("BatchNorm" if n == "batch" else "no norm"), f"{k:g}×"] + [show(n, k, lr) for lr in lrs]
            for n in ("none", "batch") for k in SCALES]
    plots = [figures.heatmap(f"val accuracy %, {'BatchNorm' if n == 'batch' else 'no normalization'}", lrs,
                             [f"{k:g}× Kaiming" for k in SCALES], [[100 * acc[(n, k, lr)] for lr in lrs] for k in SCALES],
                             xlabel="learning rate", ylabel="init scale", vmin=0, vmax=100 * best)
             for n in ("none", "batch")]
    return ExperimentResult(
        name="batchnorm-lr-init",
        claim="BatchNorm allows higher learning rates and makes training robust to the initialization scale.",
        columns=["net", "init scale"] + [f"lr {lr}" for lr in lrs],
        rows=rows,
        verdict=(f"cells that train: BatchNorm {count['batch']}/{len(SCALES) * len(lrs)} vs no norm {count['none']}; "
                 f"largest LR that trains: {top_lr['batch']} vs {top_lr['none']}; BatchNorm trains at every init scale: "
                 f"{every_scale['batch']} (no norm: {every_scale['none']})"),
        passed=passed,
        tolerance=f"a cell trains at ≥ {TRAINS:.0%} of the best cell's val accuracy; BatchNorm needs more such cells, a "
                  "higher largest LR, and at least one at every init scale",
        setting=f"MNIST-1D; ReLU MLP 6×128; SGD+momentum batch 64, {steps} steps; init std = k·√(2/fan_in); {seeds} "
                f"seed(s); cells: val accuracy % (median [min–max]; diverged runs count as 0), ✗ = does not train, "
                "div = diverged in every seed",
        notes="Without normalization the scale of every layer's output follows the init (k⁶ after 6 layers) and the "
              "LR must match it; BatchNorm re-standardizes each layer, so neither the init scale nor (up to a point) "
              "the step size can blow the activations up. At a very high LR BatchNorm nets fail too.",
        plots=plots,
        details={"cells": {f"{n} k={k} lr={lr}": v for (n, k, lr), v in cells.items()}, "lrs": lrs, "scales": SCALES,
                 "steps": steps, "seeds": seeds},
    )
