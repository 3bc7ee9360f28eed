"""Babysitting step 3 (CS231n lecture 6): at initialization, with regularization off, the softmax
loss should be about −log(1/C) = log C — the network knows nothing, so it spreads its probability
evenly over the C classes; turning regularization on must raise it.

Setting: untrained models on MNIST-1D restricted to its first C classes (C = 10, 5, 2; 3 init
seeds each): MLP 128-128 with trainwell's default Kaiming init and with Xavier init, a 1-D
ConvNet 32-32 with BatchNorm, a ResNet 16-32. The loss on the validation examples with
regularization off (`trainwell.doctor.loss_checks.initial_loss`, the doctor's own check), then
with an L2 penalty 1e-3 (`trainwell.optim.Penalty`, ½·λ·Σw² over the decayed weights) and — for
the MLP — dropout 0.5 active.
Claims checked: every model's median loss is within 50% of log C (the tolerance of `trainwell
doctor`), and both regularizers raise the loss of every model at every C.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from trainwell.data import DataBundle
from trainwell.experiments import figures
from trainwell.experiments.budget import Budget
from trainwell.experiments.common import build_model, cell, median, mnist1d, rng_devices
from trainwell.experiments.result import ExperimentResult

MODELS = {"MLP, Kaiming (default)": {"name": "mlp", "widths": [128, 128]},
          "MLP, Xavier": {"name": "mlp", "widths": [128, 128], "init": "xavier"},
          "ConvNet + BatchNorm": {"name": "convnet", "channels": [32, 32], "norm": "batch"},
          "ResNet": {"name": "resnet", "channels": [16, 32]}}
L2 = 1e-3
RTOL = 0.5


def first_classes(data: DataBundle, c: int) -> DataBundle:
    """The examples of classes 0..c−1 only."""
    def keep(x, y):
        mask = y < c
        return x[mask], y[mask]

    parts = [keep(data.x_train, data.y_train), keep(data.x_val, data.y_val), keep(data.x_test, data.y_test)]
    return DataBundle(f"{data.name} (classes < {c})", *parts[0], *parts[1], *parts[2], c)


@torch.no_grad()
def dropout_loss(spec: dict, data: DataBundle, seed: int) -> float:
    """Cross-entropy of the same init with dropout 0.5 active (training mode; seeded masks)."""
    model = build_model({**spec, "dropout": 0.5}, data, seed).train()
    with torch.random.fork_rng(devices=rng_devices(data.x_val)):
        torch.manual_seed(seed)
        return float(F.cross_entropy(model(data.x_val), data.y_val))


def run(budget: str = "full", progress: bool = False, out_dir=None) -> ExperimentResult:
    from trainwell.doctor.loss_checks import initial_loss
    from trainwell.optim import Penalty

    b = Budget.of(budget)
    seeds = b.pick(smoke=1, quick=3, full=5)
    classes = b.pick(smoke=(10,), quick=(10, 5, 2), full=(10, 5, 2))
    base = mnist1d()
    rows, m = [], {}
    raised = True
    for c in classes:
        data = first_classes(base, c)
        for label, spec in MODELS.items():
            rec = m[(c, label)] = {"plain": [], "l2": [], "dropout": []}
            for seed in range(seeds):
                model = build_model(spec, data, seed)
                plain = initial_loss(model, data.x_val, data.y_val)
                rec["plain"].append(plain)
                with torch.no_grad():
                    rec["l2"].append(plain + float(Penalty(l2=L2)(model)))
                if spec["name"] == "mlp":
                    rec["dropout"].append(dropout_loss(spec, data, seed))
            raised &= all(r > p for r, p in zip(rec["l2"], rec["plain"]))
            raised &= all(r > p for r, p in zip(rec["dropout"], rec["plain"]))
            ratio = median(rec["plain"]) / math.log(c)
            rows.append([c, f"{math.log(c):.3f}", label, cell(rec["plain"], digits=3), f"{ratio:.2f}",
                         cell(rec["l2"], digits=3), cell(rec["dropout"], digits=3) if rec["dropout"] else "—"])
    ratios = {k: median(v["plain"]) / math.log(k[0]) for k, v in m.items()}
    close = all(abs(r - 1) <= RTOL for r in ratios.values())
    passed = close and raised
    worst = max(ratios, key=lambda k: abs(ratios[k] - 1))
    plots = [figures.bars("loss at init / log C (median over init seeds)", [f"C={c} {lab.split(',')[0]}" for c, lab in m],
                          list(ratios.values()), ylabel="loss / log C", hline=1.0)]
    return ExperimentResult(
        name="initial-loss",
        claim="At initialization the loss is about log C, and adding regularization raises it.",
        columns=["C", "log C", "model", "loss at init", "/ log C", f"+ L2 {L2:g}", "+ dropout 0.5"],
        rows=rows,
        verdict=(f"loss at init / log C from {min(ratios.values()):.2f} to {max(ratios.values()):.2f} (furthest: C={worst[0]}, "
                 f"{worst[1]}); regularization raised the loss in {'every' if raised else 'not every'} case"),
        passed=passed,
        tolerance=f"every median within {RTOL:.0%} of log C (trainwell doctor's rule); L2 and dropout raise the loss in "
                  "every model, C and seed",
        setting=f"MNIST-1D restricted to classes < C; untrained models, {seeds} init seeds; losses on the validation "
                "examples of those classes",
        notes="Kaiming init gives the head layer the ReLU gain √2 too, so its logits have a std near 1 and the loss "
              "starts clearly above log C; inits that keep the last layer small (Xavier, or BatchNorm before a "
              "GAP head) land within a few percent. The L2 term is ≥ 0 by construction; dropout raises the "
              "loss because the thinned network's logits are noisier.",
        plots=plots,
        details={"measured": {f"C={c} {lab}": v for (c, lab), v in m.items()}, "l2": L2},
    )
