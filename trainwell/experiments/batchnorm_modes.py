"""BatchNorm behaves differently in training and evaluation (Ioffe & Szegedy 2015; CS231n lecture 6:
"a very common source of bugs"): in training mode it normalizes with the statistics of the current
minibatch, so an example's output depends on the other examples in its batch; in evaluation mode it
uses the running averages collected in training, and every example is processed on its own.
LayerNorm normalizes each example by itself and is the same in both modes.

Setting: a 1-D ConvNet (3 conv layers of 32 channels, kernel 5) on MNIST-1D with BatchNorm or
LayerNorm after each conv, trained with SGD + momentum 0.9 (lr 0.05, batch 64). Then, on the
validation set:
* accuracy in eval mode, and "by mistake" in training mode with batches of 800, 16 and 2;
* batch dependence: how much an example's logits change when the other 15 examples of its batch
  of 16 are replaced by others (max |Δ| over 64 examples), in each mode;
* train-mode vs eval-mode outputs of the same batch (max |Δ|).
Claims checked: BatchNorm in eval mode has zero batch dependence and in training mode a clear one
(max |Δ| > 1e-2); its training-mode accuracy with batches of 2 is ≥ 5 points below eval mode;
LayerNorm's train and eval outputs agree within 1e-5.
"""
from __future__ import annotations

import copy

import torch

from trainwell.experiments import figures
from trainwell.experiments.budget import Budget
from trainwell.experiments.common import cell, median, mnist1d, train_curve
from trainwell.experiments.result import ExperimentResult


def model_spec(norm: str) -> dict:
    return {"name": "convnet", "channels": [32, 32, 32], "kernel": 5, "pool": ["none", "max", "max"], "norm": norm,
            "head": "gap"}


@torch.no_grad()
def logits(model, x: torch.Tensor, train: bool, batch: int) -> torch.Tensor:
    """Outputs of `model` on x in batches, in training mode (on a copy: running stats untouched) or eval mode."""
    net = copy.deepcopy(model).train(train)
    return torch.cat([net(x[i:i + batch]) for i in range(0, len(x), batch)])


@torch.no_grad()
def batch_dependence(model, x: torch.Tensor, train: bool, n: int = 64, batch: int = 16) -> float:
    """max |Δ logits| of examples 0..n-1 when the rest of their batch is swapped for other examples."""
    net = copy.deepcopy(model).train(train)
    worst = 0.0
    others = x[n:]
    for i in range(n):
        a = torch.cat([x[i:i + 1], others[:batch - 1]])
        b = torch.cat([x[i:i + 1], others[batch - 1:2 * (batch - 1)]])
        worst = max(worst, float((net(a)[0] - net(b)[0]).abs().max()))
    return worst


def accuracy_of(out: torch.Tensor, y: torch.Tensor) -> float:
    return float((out.argmax(1) == y).float().mean())


def run(budget: str = "full", progress: bool = False, out_dir=None) -> ExperimentResult:
    b = Budget.of(budget)
    steps = b.pick(smoke=10, quick=300, full=500)
    seeds = b.pick(smoke=1, quick=1, full=3)
    data = mnist1d()
    xv, yv = data.x_val, data.y_val
    m: dict[str, dict[str, list]] = {}
    for norm in ("batch", "layer"):
        rec = m[norm] = {"eval": [], "train_800": [], "train_16": [], "train_2": [], "dep_eval": [], "dep_train": [],
                         "train_vs_eval": []}
        for seed in range(seeds):
            c = train_curve(model_spec(norm), data, steps=steps, seed=seed, optimizer="momentum", lr=0.05, batch_size=64,
                            log_every=20, label=norm)
            model = c.model.eval()
            rec["eval"].append(accuracy_of(logits(model, xv, False, 800), yv))
            for bs in (800, 16, 2):
                rec[f"train_{bs}"].append(accuracy_of(logits(model, xv, True, bs), yv))
            rec["dep_eval"].append(batch_dependence(model, xv, False))
            rec["dep_train"].append(batch_dependence(model, xv, True))
            rec["train_vs_eval"].append(float((logits(model, xv[:64], True, 64) - logits(model, xv[:64], False, 64)).abs().max()))
    names = {"batch": "BatchNorm", "layer": "LayerNorm"}
    rows = []
    for norm, rec in m.items():
        rows.append([names[norm], cell(rec["eval"], 100), cell(rec["train_800"], 100), cell(rec["train_16"], 100),
                     cell(rec["train_2"], 100), cell(rec["dep_eval"], digits=2), cell(rec["dep_train"], digits=2),
                     cell(rec["train_vs_eval"], digits=2)])
    bn = m["batch"]
    drop = median(bn["eval"]) - median(bn["train_2"])
    passed = (max(bn["dep_eval"]) == 0.0 and median(bn["dep_train"]) > 1e-2 and drop >= 0.05
              and max(m["layer"]["train_vs_eval"]) <= 1e-5)
    plots = [figures.bars("val accuracy by mode and batch size (median)",
                          [f"{names[n]} {k}" for n in m for k in ("eval", "train 800", "train 16", "train 2")],
                          [100 * median(m[n][k]) for n in m for k in ("eval", "train_800", "train_16", "train_2")],
                          ylabel="val accuracy %")]
    return ExperimentResult(
        name="batchnorm-train-eval",
        claim="BatchNorm uses batch statistics in training and running averages in evaluation: in training mode an "
              "example's output depends on its batch; LayerNorm is the same in both modes.",
        columns=["norm", "val acc, eval mode %", "train mode, batch 800 %", "train mode, batch 16 %",
                 "train mode, batch 2 %", "batch dependence, eval (max |Δ|)", "batch dependence, train (max |Δ|)",
                 "train vs eval outputs (max |Δ|)"],
        rows=rows,
        verdict=(f"BatchNorm: batch dependence {max(bn['dep_eval']):.2g} in eval mode vs {median(bn['dep_train']):.2f} in "
                 f"training mode; evaluating in training mode with batches of 2 costs {100 * drop:.1f} points; "
                 f"LayerNorm train vs eval max |Δ| = {max(m['layer']['train_vs_eval']):.1e}"),
        passed=passed,
        tolerance="BatchNorm eval-mode batch dependence exactly 0 and train-mode > 1e-2; train-mode accuracy with "
                  "batches of 2 ≥ 5 points below eval mode; LayerNorm train vs eval ≤ 1e-5",
        setting=f"MNIST-1D, ConvNet 3×32 (kernel 5) with BatchNorm or LayerNorm, SGD+momentum lr 0.05, batch 64, "
                f"{steps} steps, {seeds} seed(s); measured on the 800 validation examples",
        notes="With a large batch the batch statistics are close to the running averages, so the mistake of "
              "evaluating in training mode hides; it shows with small or unrepresentative batches (batch 2: each "
              "channel is normalized over 2 examples). Always call model.eval() before evaluating.",
        plots=plots,
        details={"measured": m, "steps": steps, "seeds": seeds},
    )
