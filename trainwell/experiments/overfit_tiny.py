"""Babysitting step 4 (CS231n lecture 6): before training for real, make sure the model can overfit
a tiny subset — 20 examples, regularization off, plain SGD — to 100% training accuracy (a
model/loss/optimizer bug shows up here in seconds).

Setting: 20 MNIST-1D training examples (a seeded draw), the whole subset as one batch; plain SGD
(no momentum, no weight decay, no dropout, no augmentation), a constant LR; models: MLP 128-128
(lr 0.1), 1-D ConvNet 32-32-32 without normalization (lr 0.05), ResNet 16-32 with BatchNorm
(lr 0.05). A run stops at the first logged window of 100% training accuracy (logged every 5
steps), at most 1000 steps. The final training loss shows how far the memorisation went.
Claim checked: every model reaches 100% training accuracy on the 20 examples, in every seed.
"""
from __future__ import annotations

from trainwell.experiments import figures
from trainwell.experiments.budget import Budget
from trainwell.experiments.common import accuracy, cell, mnist1d, stop_at, train_curve
from trainwell.experiments.result import ExperimentResult

MODELS = {"MLP 128-128": ({"name": "mlp", "widths": [128, 128]}, 0.1),
          "ConvNet 3×32 (no norm)": ({"name": "convnet", "channels": [32, 32, 32], "kernel": 5, "norm": "none",
                                      "pool": ["none", "max", "max"]}, 0.05),
          "ResNet 16-32 (BatchNorm)": ({"name": "resnet", "channels": [16, 32]}, 0.05)}


def run(budget: str = "full", progress: bool = False, out_dir=None) -> ExperimentResult:
    b = Budget.of(budget)
    max_steps = b.pick(smoke=10, quick=1000, full=1000)
    seeds = b.pick(smoke=1, quick=2, full=5)
    m, curves = {}, {}
    for label, (spec, lr) in MODELS.items():
        rec = m[label] = {"steps": [], "train_acc": [], "loss": []}
        for seed in range(seeds):
            data = mnist1d(subset=20, seed=seed)
            c = train_curve(spec, data, steps=max_steps, seed=seed, optimizer="sgd", lr=lr, batch_size=20, log_every=5,
                            eval_every=max_steps, label=label, callbacks=[stop_at("accuracy", 1.0)])
            rec["steps"].append(c.steps_to("accuracy", 1.0))
            rec["train_acc"].append(accuracy(c.model, data.x_train, data.y_train))
            rec["loss"].append(c.final_loss)
            if seed == 0:
                curves[label] = c
    reached = {k: all(s is not None for s in v["steps"]) for k, v in m.items()}
    passed = all(reached.values())
    rows = [[k, MODELS[k][1], cell(v["steps"], digits=0), f"{sum(s is not None for s in v['steps'])}/{seeds}",
             cell(v["train_acc"], 100), cell(v["loss"], digits=3)] for k, v in m.items()]
    plots = [figures.lines("training accuracy on the 20 examples (seed 0)",
                           [figures.series(k, c.steps, c.accuracy) for k, c in curves.items()], ylabel="training accuracy",
                           hline=1.0)]
    return ExperimentResult(
        name="overfit-tiny",
        claim="With regularization off and plain SGD, a network fits 20 training examples to 100% accuracy.",
        columns=["model", "lr", "steps to 100%", "seeds reaching 100%", "train acc % (eval mode)", "loss at stop"],
        rows=rows,
        verdict=", ".join(f"{k}: {sum(s is not None for s in v['steps'])}/{seeds} seeds at 100% (median "
                          f"{cell(v['steps'], digits=0)} steps)" for k, v in m.items()),
        passed=passed,
        tolerance=f"every model reaches 100% training accuracy within {max_steps} steps in every seed",
        setting=f"MNIST-1D, 20 training examples (seeded draw), full batch; plain SGD, constant LR, no regularization; "
                f"up to {max_steps} steps; {seeds} seed(s)",
        notes="A model that cannot memorise 20 examples has a bug (labels shuffled against inputs, a broken loss, a "
              "frozen layer, an LR far off) — this is the cheapest check there is. The 'train acc' column is measured "
              "in eval mode: for the BatchNorm ResNet that means with running statistics of these 20 examples.",
        plots=plots,
        details={"measured": m, "max_steps": max_steps},
    )
