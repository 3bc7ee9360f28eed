"""Learning rate too low, too high, about right (CS231n lecture 6, babysitting; the figure of loss
curves per LR): a loss that barely changes means the LR is too low; NaN or a loss that grows means
too high; a good LR is in between.

Setting: an MLP 40→128→128→10 on MNIST-1D, plain SGD, batch 64, the same seed for every LR of a
log grid from 1e-4 to 10; the training loss every 10 steps. "Diverged": the Trainer stopped on a
non-finite loss.
Claims checked: at the lowest LR the loss falls by less than 10% over the run; at the highest it
blows up — the run diverges (NaN/Inf) or ends no better than chance (loss ≥ log C) — in every
seed; the lowest final loss is at an LR strictly inside the grid.
"""
from __future__ import annotations

import math

from trainwell.experiments import figures
from trainwell.experiments.budget import Budget
from trainwell.experiments.common import cell, median, mnist1d, train_curve
from trainwell.experiments.result import ExperimentResult

LRS = [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0]


def run(budget: str = "full", progress: bool = False, out_dir=None) -> ExperimentResult:
    b = Budget.of(budget)
    steps = b.pick(smoke=20, quick=300, full=500)
    seeds = b.pick(smoke=1, quick=1, full=3)
    data = mnist1d()
    m, curves = {}, {}
    for lr in LRS:
        rec = m[lr] = {"start": [], "end": [], "diverged": [], "val": []}
        for seed in range(seeds):
            c = train_curve({"name": "mlp", "widths": [128, 128]}, data, steps=steps, seed=seed, optimizer="sgd", lr=lr,
                            batch_size=64, log_every=10, label=f"lr {lr:g}")
            rec["start"].append(c.loss[0] if c.loss else float("nan"))
            rec["end"].append(c.final_loss if not c.diverged else float("nan"))
            rec["diverged"].append(c.diverged)
            rec["val"].append(c.final_val_accuracy if not c.diverged else float("nan"))
            if seed == 0:
                curves[lr] = c
    end = {lr: median(v["end"], float("inf")) if not all(v["diverged"]) else float("inf") for lr, v in m.items()}
    low, high = LRS[0], LRS[-1]
    drop_low = 1 - median(m[low]["end"]) / median(m[low]["start"])
    log_c = math.log(data.num_classes)
    high_bad = all(d or not e < log_c for d, e in zip(m[high]["diverged"], m[high]["end"]))
    best = min(LRS, key=lambda lr: end[lr])
    passed = drop_low < 0.10 and high_bad and best not in (low, high)

    def status(lr: float) -> str:
        v = m[lr]
        if all(v["diverged"]):
            return "diverged (NaN/Inf)"
        if lr == best:
            return "best"
        return ""

    rows = [[f"{lr:g}", cell(v["start"], digits=3), cell(v["end"], digits=3), f"{sum(v['diverged'])}/{seeds}",
             cell(v["val"], 100), status(lr)] for lr, v in m.items()]
    plots = [figures.lines("training loss per learning rate (seed 0)",
                           [figures.series(f"lr {lr:g}" + (" (diverged)" if c.diverged else ""), c.steps, c.loss)
                            for lr, c in curves.items()], ylabel="training loss", logy=True, hline=log_c,
                           ylim=[0.3, 30.0])]
    return ExperimentResult(
        name="lr-too-high-low",
        claim="Too low a learning rate barely moves the loss, too high makes it explode; a good one is in between.",
        columns=["learning rate", "loss, first 10 steps", f"loss after {steps} steps", "diverged", "val acc %", ""],
        rows=rows,
        verdict=(f"lr {low:g}: loss fell {100 * drop_low:.1f}%; lr {high:g}: "
                 f"{sum(m[high]['diverged'])}/{seeds} seed(s) diverged"
                 + (", the others ended at chance or worse" if high_bad and not all(m[high]['diverged']) else
                    "" if high_bad else ", another one learned") + "; "
                 f"lowest final loss at lr {best:g}"),
        passed=passed,
        tolerance=f"loss drop < 10% at lr {low:g}; at lr {high:g} every seed diverges or ends at a loss ≥ log C; best LR "
                  "inside the grid",
        setting=f"MNIST-1D, MLP 128-128, plain SGD, batch 64, {steps} steps, {seeds} seed(s)",
        notes="The curves are the lecture's figure: a nearly flat line (too low), a blow-up (too high: NaN, or an "
              "explosion that leaves the ReLUs dead and the loss at chance), a steady decline in between. The first-window loss is above log C because the Kaiming-initialized head gives "
              "logits of order 1 (see initial-loss).",
        plots=plots,
        details={"measured": {str(k): v for k, v in m.items()}, "steps": steps},
    )
