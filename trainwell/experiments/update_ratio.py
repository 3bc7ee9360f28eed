"""The update/weight ratio (CS231n lecture 6, babysitting): the size of a step relative to the size
of the weights, ‖Δw‖/‖w‖, should be around 1e-3 — much lower and the LR is too low, much higher
and it is too high.

Setting: an MLP 40→128→128→10 on MNIST-1D, SGD + momentum 0.9, batch 64, a log grid of learning
rates; `trainwell.diagnostics.StatsCallback` records ‖Δw‖/‖w‖ of every weight matrix every 10
steps. Per LR: the median ratio over the weight matrices and recorded steps, the final training
loss and validation accuracy. The "good" LR is the one with the best final validation accuracy.
Claims checked: the ratio grows with the LR (over the LRs whose run learned: validation accuracy
above twice chance), and at the good LR it is within a factor 3 of 1e-3 (half a decade either way).
"""
from __future__ import annotations

import statistics

from trainwell.experiments import figures
from trainwell.experiments.budget import Budget
from trainwell.experiments.common import cell, median, mnist1d, train_curve
from trainwell.experiments.result import ExperimentResult

LRS = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]


def ratios_of(records: list[dict]) -> list[float]:
    """Every weight matrix's update ratio in every recorded training step (biases left out)."""
    out = []
    for r in records:
        if r.get("phase", "train") != "train":
            continue
        out += [p["update_ratio"] for p in r["params"] if p["name"].endswith("weight") and p.get("update_ratio") is not None]
    return out


def run(budget: str = "full", progress: bool = False, out_dir=None) -> ExperimentResult:
    from trainwell.diagnostics import StatsCallback

    b = Budget.of(budget)
    steps = b.pick(smoke=20, quick=300, full=500)
    seeds = b.pick(smoke=1, quick=1, full=3)
    lrs = b.pick(smoke=[1e-2], quick=LRS, full=LRS)
    data = mnist1d()
    m, series = {}, {}
    for lr in lrs:
        rec = m[lr] = {"ratio": [], "loss": [], "val": [], "diverged": []}
        for seed in range(seeds):
            c = train_curve({"name": "mlp", "widths": [128, 128]}, data, steps=steps, seed=seed, optimizer="momentum", lr=lr,
                            batch_size=64, log_every=10, label=f"lr {lr:g}", callbacks=[StatsCallback(every=10)])
            ratios = ratios_of(c.records.get("stats", []))
            rec["ratio"].append(statistics.median(ratios) if ratios else float("nan"))
            rec["loss"].append(c.final_loss if not c.diverged else float("nan"))
            rec["val"].append(c.final_val_accuracy if not c.diverged else float("nan"))
            rec["diverged"].append(c.diverged)
            if seed == 0:
                stats = [r for r in c.records.get("stats", []) if r.get("phase", "train") == "train"]
                series[lr] = ([r["step"] for r in stats], [statistics.median(ratios_of([r]) or [float("nan")]) for r in stats])
    ratio = {lr: median(v["ratio"]) for lr, v in m.items()}
    good = max(lrs, key=lambda lr: median(m[lr]["val"], -1.0))
    chance = 1.0 / data.num_classes
    learned = [lr for lr in lrs if median(m[lr]["val"], 0.0) > 2 * chance and ratio[lr] == ratio[lr]]
    monotone = all(ratio[a] < ratio[b] for a, b in zip(learned[:-1], learned[1:]))
    passed = monotone and 1e-3 / 3 <= ratio[good] <= 3e-3
    rows = [[f"{lr:g}", cell(v["ratio"], digits=1), cell(v["loss"], digits=3), cell(v["val"], 100),
             "good (best val)" if lr == good else ""] for lr, v in m.items()]
    plots = [
        figures.lines("median update/weight ratio vs learning rate", [figures.series("‖Δw‖/‖w‖", lrs, [ratio[lr] for lr in lrs])],
                      xlabel="learning rate", ylabel="update / weight", logx=True, logy=True, hline=1e-3),
        figures.lines("update/weight ratio during training (seed 0)",
                      [figures.series(f"lr {lr:g}", s, r) for lr, (s, r) in series.items()], ylabel="median ‖Δw‖/‖w‖",
                      logy=True, hline=1e-3),
    ]
    return ExperimentResult(
        name="update-ratio",
        claim="At a good learning rate the update/weight ratio ‖Δw‖/‖w‖ is about 1e-3.",
        columns=["learning rate", "median ‖Δw‖/‖w‖", "final training loss", "val acc %", ""],
        rows=rows,
        verdict=(f"over the LRs that learned ({', '.join(f'{lr:g}' for lr in learned)}) the ratio "
                 f"{'grows' if monotone else 'does not grow monotonically'} with the LR; at the best LR {good:g} it is "
                 f"{ratio[good]:.1e} ({ratio[good] / 1e-3:.1f}× the rule of thumb)"),
        passed=passed,
        tolerance="ratio increasing with the LR over the runs that learned; at the best-validation LR within "
                  "[3.3e-4, 3e-3] (a factor 3 of 1e-3)",
        setting=f"MNIST-1D, MLP 128-128, SGD+momentum batch 64, {steps} steps, ratios of the 3 weight matrices every 10 "
                f"steps (StatsCallback), {seeds} seed(s)",
        notes=("With momentum the step is lr·v, so the ratio scales with the LR. The lecture's 1e-3 is a rule of thumb "
               "for where training is fast but stable; in a short run the best LR tends to be the largest stable one "
               f"(here lr {good:g}, ratio {ratio[good]:.1e}). At too high an LR the ReLUs die and the weights stop moving: the ratio "
               "collapses instead of growing."),
        plots=plots,
        details={"measured": {str(k): v for k, v in m.items()}, "good_lr": good},
    )
