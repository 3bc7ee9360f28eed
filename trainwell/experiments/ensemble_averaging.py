"""Averaged weights (EMA, SWA) score at least as well as the raw weights at the end of a short run.

Setting: the member recipe recipes/ensemble_mnist1d.toml with a CONSTANT learning rate (so the
last iterate still bounces around the minimum — the case averaging is for; with a schedule that
anneals to ~0 the average and the last iterate nearly coincide). One run per seed keeps both an
EMA (decay 0.98) and an SWA average (uniform from 75% of the run) of the weights; the raw, EMA and
SWA weights are scored on the test set (BatchNorm statistics recomputed for averaged weights).
Claim checked: median over seeds of EMA − raw ≥ 0. Quick and full runs train for the same 10 epochs
(a shorter run would test another claim: at 2 epochs the EMA still remembers the early, worse
weights); they differ in the number of seeds.
"""
from __future__ import annotations

import statistics

from trainwell.config import default_recipe_path
from trainwell.config import load_recipe
from trainwell.experiments import figures
from trainwell.experiments.budget import Budget
from trainwell.experiments.common import cell
from trainwell.experiments.result import ExperimentResult


def run(budget: str = "full", decay: float = 0.98, swa_start: float = 0.75, progress: bool = False,
        out_dir=None) -> ExperimentResult:
    from trainwell.train.ema import EMACallback
    from trainwell.train.swa import SWACallback
    from trainwell.train.evaluate import evaluate
    from trainwell.assemble import from_recipe

    b = Budget.of(budget)
    overrides = ['schedule={name="constant"}', "optim.lr=3e-3"] + (["train.epochs=1"] if b.smoke else [])
    seeds = b.pick(smoke=1, quick=2, full=5)
    rows, diffs, measured = [], [], {"raw": [], "ema": [], "swa": []}
    for i in range(seeds):
        recipe = load_recipe(default_recipe_path("ensemble_mnist1d"), [*overrides, f"seed={1000 * i}"])
        ema, swa = EMACallback(decay), SWACallback(swa_start)
        run = from_recipe(recipe, progress=progress, callbacks=[ema, swa])
        run.fit()
        data = run.data.bundle
        x, y = data.x_test, data.y_test
        raw = evaluate(run.model, x, y)["accuracy"]
        e = evaluate(ema.averaged_model(data.x_train), x, y)["accuracy"]
        s = evaluate(swa.averaged_model(data.x_train), x, y)["accuracy"]
        diffs.append(e - raw)
        for key, value in (("raw", raw), ("ema", e), ("swa", s)):
            measured[key].append(value)
        rows.append([1000 * i, round(100 * raw, 2), round(100 * e, 2), round(100 * s, 2), round(100 * (e - raw), 2)])
    med = statistics.median(diffs)
    rows.append(["median [min–max]", cell(measured["raw"], 100, 2), cell(measured["ema"], 100, 2),
                 cell(measured["swa"], 100, 2), cell(diffs, 100, 2)])
    plots = [figures.lines("test accuracy per seed", [figures.series(k, list(range(seeds)), [100 * v for v in vals])
                                                       for k, vals in measured.items()], xlabel="seed index",
                           ylabel="test accuracy %")]
    return ExperimentResult(
        name="weight-averaging",
        claim="EMA (and SWA) weights at the end of a short run score at least as well as the raw weights.",
        columns=["seed", "raw %", f"EMA {decay} %", f"SWA from {swa_start:.0%} %", "EMA − raw (points)"],
        rows=rows,
        verdict=f"median EMA − raw = {100 * med:+.2f} points over {seeds} seeds (claim: ≥ 0)",
        passed=med >= 0.0,
        tolerance="median over seeds of (EMA − raw) test accuracy ≥ 0",
        setting=f"recipe ensemble_mnist1d (ConvNet 3×32, MNIST-1D, 10 epochs) with a constant lr 3e-3; EMA decay {decay}, "
                f"SWA from {swa_start:.0%} of the run; {seeds} seed(s); 1000 test signals",
        notes="Averaging helps when the last iterate bounces around a minimum (a constant LR); with an LR annealed "
              "to ~0 the average and the last iterate nearly coincide.",
        plots=plots,
        details={"seeds": seeds, "decay": decay, "swa_start": swa_start, "recipe": "recipes/ensemble_mnist1d.toml",
                 "overrides": overrides, "measured": measured},
    )
