"""Dead ReLUs: a unit whose input is negative for every example outputs 0 and passes no gradient to
its weights, so it never activates again; a too-high learning rate (or a bad init) kills many of
them (CS231n lecture 6). Leaky ReLU (slope 0.01 for x < 0) always passes some gradient.

Setting: an MLP 40→128→128→128→10 on MNIST-1D, SGD + momentum 0.9, batch 64. Phase 1 trains for
N steps at a good learning rate (0.03) or a too-high one (0.3); the units that output ≤ 0 on
EVERY training example are counted ("never active"). Phase 2 continues the same model for N
steps at the good learning rate and counts how many of those units are still never active.
Claims checked: at the too-high LR ≥ 20% of the ReLU units of the net are dead (vs ≤ 5% at the
good LR), and ≥ 90% of them are still dead after phase 2 — they do not recover.
"""
from __future__ import annotations

import torch

from trainwell.experiments import figures
from trainwell.experiments.budget import Budget
from trainwell.experiments.common import accuracy, cell, median, mnist1d, never_active, train_curve
from trainwell.experiments.result import ExperimentResult

GOOD, HIGH = 0.03, 0.3
TRAIN = {"optimizer": "momentum", "batch_size": 64, "log_every": 10}


def fraction(masks: dict[str, torch.Tensor]) -> float:
    total = sum(m.numel() for m in masks.values())
    return float(sum(int(m.sum()) for m in masks.values())) / total


def still_dead(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> float | None:
    n = sum(int(m.sum()) for m in before.values())
    if n == 0:
        return None
    return sum(int((before[k] & after[k]).sum()) for k in before) / n


def run(budget: str = "full", progress: bool = False, out_dir=None) -> ExperimentResult:
    b = Budget.of(budget)
    steps = b.pick(smoke=20, quick=300, full=500)
    seeds = b.pick(smoke=1, quick=2, full=5)
    data = mnist1d()
    m: dict[tuple[str, float], dict[str, list]] = {}
    layers_dead, curves = {}, {}
    for act in ("relu", "leaky_relu"):
        for lr in (GOOD, HIGH):
            rec = m[(act, lr)] = {"dead": [], "still": [], "val": []}
            for seed in range(seeds):
                spec = {"name": "mlp", "widths": [128, 128, 128], "activation": act}
                c1 = train_curve(spec, data, steps=steps, seed=seed, lr=lr, label=f"{act} lr {lr}", **TRAIN)
                before = never_active(c1.model, data.x_train)
                c2 = train_curve(spec, data, steps=steps, seed=seed + 100, lr=GOOD, model=c1.model,
                                 label=f"{act} lr {lr} then {GOOD}", **TRAIN)
                after = never_active(c2.model, data.x_train)
                rec["dead"].append(fraction(before))
                rec["still"].append(still_dead(before, after))
                rec["val"].append(accuracy(c2.model, data.x_val, data.y_val))
                if seed == 0:
                    layers_dead[(act, lr)] = [float(v.float().mean()) for v in before.values()]
                    curves[(act, lr)] = (c1, c2)
    rows = [[act, lr, cell(v["dead"], 100), cell(v["still"], 100), cell(v["val"], 100)] for (act, lr), v in m.items()]
    dead_high, dead_good = median(m[("relu", HIGH)]["dead"]), median(m[("relu", GOOD)]["dead"])
    still = median(m[("relu", HIGH)]["still"])
    passed = dead_high >= 0.20 and dead_good <= 0.05 and still == still and still >= 0.90
    plots = [
        figures.bars("never-active units after phase 1 (% of hidden units)", [f"{a} {lr}" for a, lr in m],
                     [100 * median(v["dead"]) for v in m.values()], lo=[100 * min(v["dead"]) for v in m.values()],
                     hi=[100 * max(v["dead"]) for v in m.values()], ylabel="% never active"),
        figures.lines("training loss, phase 1 then phase 2 at lr 0.03 (seed 0)",
                      [figures.series(f"{a} {lr}", c1.steps + [steps + s for s in c2.steps], c1.loss + c2.loss)
                       for (a, lr), (c1, c2) in curves.items()], ylabel="training loss"),
        figures.lines("never-active units per layer after phase 1 (seed 0)",
                      [figures.series(f"{a} {lr}", [1, 2, 3], [100 * v for v in d]) for (a, lr), d in layers_dead.items()],
                      xlabel="hidden layer", ylabel="% never active"),
    ]
    return ExperimentResult(
        name="dead-relu",
        claim="A too-high learning rate leaves many ReLU units dead — inactive on every example, with no gradient to "
              "revive them; Leaky ReLU units keep a gradient.",
        columns=["activation", "phase-1 LR", "never active after phase 1 %", "of those, still never active after "
                 "phase 2 %", "val acc after phase 2 %"],
        rows=rows,
        verdict=f"ReLU at lr {HIGH}: {100 * dead_high:.0f}% of the hidden units dead (lr {GOOD}: {100 * dead_good:.0f}%); "
                f"{100 * still:.0f}% of them still dead after {steps} more steps at lr {GOOD}",
        passed=passed,
        tolerance=f"dead ≥ 20% at lr {HIGH} and ≤ 5% at lr {GOOD}; ≥ 90% of the dead ones stay dead",
        setting=f"MNIST-1D, MLP 128-128-128, SGD+momentum batch 64; {steps} steps at the phase-1 LR, then {steps} at "
                f"lr {GOOD}; 'never active': output ≤ 0 on all {len(data.x_train)} training examples; {seeds} seed(s)",
        notes=(f"A dead unit's own weights get exactly zero gradient, but the layers below it keep learning and can "
               f"move its input back above 0: {100 * (1 - still):.0f}% of the dead ReLU units revived in phase 2 "
               "(a unit of the first hidden layer, fed by fixed data, never can). Leaky ReLU loses fewer units "
               f"({100 * median(m[('leaky_relu', HIGH)]['dead']):.0f}% never positive; val accuracy after phase 2 "
               f"{100 * median(m[('leaky_relu', HIGH)]['val']):.1f}% vs ReLU {100 * median(m[('relu', HIGH)]['val']):.1f}%); "
               "its never-positive units still get 1% of the gradient, yet few of them came back within the run."),
        plots=plots,
        details={"measured": {f"{a} {lr}": v for (a, lr), v in m.items()}, "steps": steps, "seeds": seeds},
    )
