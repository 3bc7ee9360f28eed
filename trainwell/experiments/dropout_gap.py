"""Dropout shrinks the gap between training and validation accuracy (Srivastava et al. 2014; CS231n
lecture 7): each step trains a random thinned sub-network, so units cannot co-adapt to memorise
the training set.

Setting: a big net on little data — an MLP 40→512→512→10 on 400 MNIST-1D training examples (800
validation), inverted dropout with p ∈ {0, 0.1, 0.3, 0.5} after each hidden layer, SGD + momentum
0.9 at lr 0.05 with cosine decay, batch 50, 500 steps; the variants train as one vectorized model
(`train_members`). Training accuracy is measured in eval mode (no dropout) on the 400 examples.
Claim checked: the median train − val gap at every p > 0 is below the gap without dropout.
"""
from __future__ import annotations

from trainwell.experiments import figures
from trainwell.experiments.budget import Budget
from trainwell.experiments.common import cell, median, mnist1d, recipe_for, train_recipes
from trainwell.experiments.result import ExperimentResult

RATES = (0.0, 0.1, 0.3, 0.5)
SUBSET = 400


def run(budget: str = "full", progress: bool = False, out_dir=None) -> ExperimentResult:
    b = Budget.of(budget)
    steps = b.pick(smoke=20, quick=500, full=500)
    seeds = list(range(b.pick(smoke=1, quick=2, full=5)))
    data = mnist1d(subset=SUBSET)
    # largest rate first: the vectorized engine builds its template from the first member and applies
    # the members' rates to the template's dropout layers — a first member without dropout has none
    grid = [(p, s) for p in sorted(RATES, reverse=True) for s in seeds]
    recipes = [recipe_for({"name": "mlp", "widths": [512, 512], "dropout": p}, steps=steps, seed=s, optimizer="momentum",
                          lr=0.05, schedule="cosine", batch_size=50, log_every=50, name=f"p{p}-s{s}") for p, s in grid]
    results = dict(zip(grid, train_recipes(recipes, data)))
    m = {p: {"train": [results[(p, s)]["train"] for s in seeds], "val": [results[(p, s)]["val"] for s in seeds],
             "gap": [results[(p, s)]["train"] - results[(p, s)]["val"] for s in seeds]} for p in RATES}
    gaps = {p: median(v["gap"]) for p, v in m.items()}
    passed = all(gaps[p] < gaps[0.0] for p in RATES if p > 0)
    rows = [[f"{p:g}", cell(v["train"], 100), cell(v["val"], 100), cell(v["gap"], 100)] for p, v in m.items()]
    plots = [
        figures.lines("accuracy vs dropout rate (median over seeds)",
                      [figures.series("train (eval mode)", list(RATES), [100 * median(m[p]["train"]) for p in RATES]),
                       figures.series("validation", list(RATES), [100 * median(m[p]["val"]) for p in RATES])],
                      xlabel="dropout p", ylabel="accuracy %"),
        figures.bars("train − val gap (points)", [f"p={p:g}" for p in RATES], [100 * gaps[p] for p in RATES],
                     lo=[100 * min(m[p]["gap"]) for p in RATES], hi=[100 * max(m[p]["gap"]) for p in RATES],
                     ylabel="gap (points)"),
    ]
    return ExperimentResult(
        name="dropout-gap",
        claim="Dropout shrinks the gap between training and validation accuracy of a big network on little data.",
        columns=["dropout p", "train acc % (eval mode)", "val acc %", "gap (points)"],
        rows=rows,
        verdict="median gap " + ", ".join(f"p={p:g}: {100 * g:.1f}" for p, g in gaps.items()) + " points",
        passed=passed,
        tolerance="median gap at every p > 0 below the gap at p = 0",
        setting=f"MNIST-1D, {SUBSET} training examples; MLP 512-512; SGD+momentum lr 0.05, cosine, batch 50, {steps} "
                f"steps; {len(seeds)} seed(s), trained as one vectorized model ({results[grid[0]]['engine']})",
        notes=(f"The best rate shrinks the gap by {100 * (gaps[0.0] - min(gaps.values())):.1f} points (training accuracy "
               f"{100 * median(m[0.5]['train']):.0f}% at p = 0.5 in eval mode); on {SUBSET} examples the gap stays large "
               "whatever p — dropout slows memorisation, it does not add data."),
        plots=plots,
        details={"measured": {str(p): v for p, v in m.items()}, "steps": steps},
    )
