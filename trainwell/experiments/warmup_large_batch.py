"""Large minibatches: scale the LR linearly with the batch size, and warm it up (Goyal et al. 2017,
"Accurate, Large Minibatch SGD"). With batch kB and LR kη, the first steps — where the loss
changes fastest — are too large and the run starts badly; a gradual warmup from ≈ 0 to kη over
the first part of training makes the large-batch training curve match the small-batch one.

Setting: an MLP 40→256→256→10 on MNIST-1D (no normalization layers), SGD + momentum 0.9 with
cosine decay, the same number of EPOCHS for every run: batch 32 at lr 0.05 (the reference);
batch 256 (k = 8) at lr 0.4, without warmup and with a gradual (linear) warmup over the first 20%
of the run (`schedule.warmup_fraction`). Measured: the training loss at the end (mean of the last
3 logged windows), the largest logged training loss (the early blow-up), validation accuracy.
Claims checked: the warmed-up large-batch run ends closer to the small-batch training loss than
the one without warmup (ratio to the reference), and its early loss peak is lower.
"""
from __future__ import annotations

import math
import statistics

from trainwell.experiments import figures
from trainwell.experiments.budget import Budget
from trainwell.experiments.common import cell, median, mnist1d, train_curve
from trainwell.experiments.result import ExperimentResult

BASE_LR, BASE_BATCH, K = 0.05, 32, 8
RUNS = {"batch 32, lr 0.05": (BASE_BATCH, BASE_LR, {"name": "cosine"}),
        f"batch {K * BASE_BATCH}, lr {K * BASE_LR:g}, no warmup": (K * BASE_BATCH, K * BASE_LR, {"name": "cosine"}),
        f"batch {K * BASE_BATCH}, lr {K * BASE_LR:g}, warmup 20%": (K * BASE_BATCH, K * BASE_LR,
                                                                    {"name": "cosine", "warmup_fraction": 0.2})}


def run(budget: str = "full", progress: bool = False, out_dir=None) -> ExperimentResult:
    b = Budget.of(budget)
    epochs = b.pick(smoke=1, quick=12, full=12)
    seeds = b.pick(smoke=1, quick=1, full=3)
    data = mnist1d()
    n = len(data.x_train)
    m, curves = {}, {}
    for label, (batch, lr, schedule) in RUNS.items():
        steps = epochs * n // batch
        rec = m[label] = {"loss": [], "peak": [], "val": [], "steps": steps}
        for seed in range(seeds):
            c = train_curve({"name": "mlp", "widths": [256, 256]}, data, steps=steps, seed=seed, optimizer="momentum", lr=lr,
                            schedule=schedule, batch_size=batch, log_every=max(1, steps // 60), label=label)
            rec["loss"].append(statistics.fmean(c.loss[-3:]) if not c.diverged else float("inf"))
            rec["peak"].append(max(v for v in c.loss if math.isfinite(v)) if not c.diverged else float("inf"))
            rec["val"].append(c.final_val_accuracy)
            if seed == 0:
                curves[label] = c
    ref, cold, warm = list(RUNS)
    loss = {k: median(v["loss"], float("inf")) for k, v in m.items()}
    ratio = {k: loss[k] / loss[ref] for k in (cold, warm)}
    peak = {k: median(m[k]["peak"], float("inf")) for k in m}
    passed = abs(math.log(ratio[warm])) < abs(math.log(ratio[cold])) and peak[warm] < peak[cold]
    rows = [[k, v["steps"], cell(v["loss"], digits=3), f"{ratio[k]:.2f}×" if k in ratio else "1×", cell(v["peak"], digits=2),
             cell(v["val"], 100)] for k, v in m.items()]
    plots = [
        figures.lines("training loss vs epoch (seed 0)",
                      [figures.series(k, [s * batch / n for s in c.steps], c.loss)
                       for (k, c), (batch, _, _) in zip(curves.items(), RUNS.values())],
                      xlabel="epoch", ylabel="training loss", logy=True),
        figures.lines("learning rate vs epoch", [figures.series(k, [s * batch / n for s in c.steps], c.lr)
                                                 for (k, c), (batch, _, _) in zip(curves.items(), RUNS.values())],
                      xlabel="epoch", ylabel="learning rate"),
    ]
    return ExperimentResult(
        name="warmup-large-batch",
        claim="With a large batch and a linearly scaled LR, warmup is needed for the training curve to match the "
              "small-batch one.",
        columns=["run (same epochs)", "steps", "final training loss", "vs batch 32", "early loss peak", "val acc %"],
        rows=rows,
        verdict=(f"final training loss relative to batch 32: no warmup {ratio[cold]:.2f}×, warmup {ratio[warm]:.2f}×; "
                 f"early peak {peak[cold]:.2f} vs {peak[warm]:.2f}"),
        passed=passed,
        tolerance="|log(warmup / reference)| < |log(no warmup / reference)| for the final training loss, and a lower "
                  "early peak with warmup (medians)",
        setting=f"MNIST-1D, MLP 256-256 (no normalization), SGD+momentum, cosine, {epochs} epochs for every run, "
                f"k = {K}, warmup linear over 20% of the run; {seeds} seed(s)",
        notes="The large-batch runs take k× fewer steps for the same epochs. Validation accuracy of an MLP on "
              "MNIST-1D is limited by overfitting, so it varies little between the runs; warmup is about "
              "optimization, and the training loss shows it. (Goyal et al. also zero-init the last BatchNorm γ of "
              "every residual block; this net has none.)",
        plots=plots,
        details={"measured": m, "epochs": epochs, "k": K},
    )
