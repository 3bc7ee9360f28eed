"""Test-time augmentation (Krizhevsky et al. 2012; CS231n lecture 7): "training adds randomness,
testing averages it out" — a net trained on random crops is tested on a fixed set of crops (AlexNet:
10) and their softmax probabilities are averaged.

Setting: 300 training images of sklearn digits (8×8, standardized; 647 held out), a 2-D ConvNet
(16 → 32 channels, kernel 3, BatchNorm, max pooling, GAP head), SGD + momentum 0.9 at lr 0.05
with cosine decay, batch 32, 400 steps; trained with random crops (pad 1, crop back:
`random_crop`) and, for comparison, without augmentation. At test time: the plain prediction vs
the mean softmax over 5 fixed views — the image and its 1-pixel shifts left, right, up and down
(`trainwell.augment.tta`, zero fill).
Claim checked: for the crop-trained net, the median paired gain of TTA over the plain prediction
is > 0.
"""
from __future__ import annotations

import torch

from trainwell.experiments import figures
from trainwell.experiments.budget import Budget
from trainwell.experiments.common import cell, digits, median, train_curve
from trainwell.experiments.result import ExperimentResult

SUBSET = 300
MODEL = {"name": "convnet", "channels": [16, 32], "kernel": 3, "pool": ["max", "none"], "norm": "batch", "head": "gap"}
VIEWS = [{"name": "shift", "shifts": [-1, 1], "dim": -1, "mode": "zeros"},
         {"name": "shift", "shifts": [-1, 0, 1], "dim": -2, "mode": "zeros"}]
TRAINING = {"random crops (pad 1)": [{"name": "random_crop", "padding": 1}], "no augmentation": []}


def run(budget: str = "full", progress: bool = False, out_dir=None) -> ExperimentResult:
    from trainwell.augment.tta import build_tta

    b = Budget.of(budget)
    steps = b.pick(smoke=10, quick=400, full=400)
    seeds = b.pick(smoke=1, quick=2, full=5)
    data = digits(subset=SUBSET)
    x, y = torch.cat([data.x_val, data.x_test]), torch.cat([data.y_val, data.y_test])
    tta = build_tta(VIEWS)
    m = {}
    for label, aug in TRAINING.items():
        rec = m[label] = {"plain": [], "tta": [], "gain": []}
        for seed in range(seeds):
            c = train_curve(MODEL, data, steps=steps, seed=seed, label=label, optimizer="momentum", lr=0.05,
                            schedule="cosine", batch_size=32, log_every=50, augment=aug)
            model = c.model.eval()
            with torch.no_grad():
                plain = float((model(x).argmax(1) == y).float().mean())
                averaged = float((tta(model, x).argmax(1) == y).float().mean())
            rec["plain"].append(plain)
            rec["tta"].append(averaged)
            rec["gain"].append(averaged - plain)
    crops = list(TRAINING)[0]
    gain = median(m[crops]["gain"])
    passed = gain > 0
    rows = [[k, cell(v["plain"], 100), cell(v["tta"], 100), cell(v["gain"], 100) + " points"] for k, v in m.items()]
    plots = [figures.bars("held-out accuracy: plain vs TTA (median)",
                          [f"{k.split(' (')[0]}: {w}" for k in m for w in ("plain", "TTA")],
                          [100 * median(m[k][w]) for k in m for w in ("plain", "tta")],
                          lo=[100 * min(m[k][w]) for k in m for w in ("plain", "tta")],
                          hi=[100 * max(m[k][w]) for k in m for w in ("plain", "tta")], ylabel="accuracy %")]
    other = median(m["no augmentation"]["gain"])
    return ExperimentResult(
        name="tta",
        claim="Test-time augmentation — averaging the predictions over a fixed set of views — raises test accuracy "
              "of a net trained with random crops.",
        columns=["trained with", "plain acc %", f"TTA acc % ({len(tta)} views)", "TTA − plain (paired)"],
        rows=rows,
        verdict=(f"TTA − plain = {100 * gain:+.2f} points for the crop-trained net, {100 * other:+.2f} without training "
                 f"augmentation (medians over {seeds} seed(s))"),
        passed=passed,
        tolerance="median paired gain of TTA over the plain prediction > 0 for the crop-trained net",
        setting=f"sklearn digits, {SUBSET} training images; ConvNet 16-32 (BatchNorm); SGD+momentum lr 0.05, cosine, "
                f"batch 32, {steps} steps; views: identity and ±1-pixel shifts in each direction; {seeds} seed(s); "
                f"{len(x)} held-out images",
        notes="The views must be ones the net saw in training: a net trained on random crops has learned shifted "
              "digits and its averaged prediction is steadier; a net trained without augmentation sees shifted "
              "images as slightly out of distribution, and TTA can cost accuracy there. On MNIST-1D (measured while "
              "choosing the setting) circular shifts of ±2 samples brought nothing for a 1-D ConvNet.",
        plots=plots,
        details={"measured": m, "views": VIEWS},
    )
