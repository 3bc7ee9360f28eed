"""Averaged weights (EMA, SWA) score at least as well as the raw weights at the end of a short run.

Setting: the member recipe recipes/ensemble_mnist1d.toml with a CONSTANT learning rate (so the
last iterate still bounces around the minimum — the case averaging is for; with a schedule that
anneals to ~0 the average and the last iterate nearly coincide). One run per seed keeps both an
EMA (decay 0.98) and an SWA average (uniform from 75% of the run) of the weights; the raw, EMA and
SWA weights are scored on the test set (BatchNorm statistics recomputed for averaged weights).
Claim checked: median over seeds of EMA − raw ≥ 0.
"""
from __future__ import annotations

import statistics

from trainwell.config import default_recipe_path
from trainwell.config import load_recipe
from trainwell.experiments.result import ExperimentResult


def run(quick: bool = False, seeds: int = 3, decay: float = 0.98, swa_start: float = 0.75, progress: bool = False,
        out_dir=None) -> ExperimentResult:
    from trainwell.train.ema import EMACallback
    from trainwell.train.swa import SWACallback
    from trainwell.train.evaluate import evaluate
    from trainwell.assemble import from_recipe

    overrides = ['schedule={name="constant"}', "optim.lr=3e-3"] + (["train.epochs=2"] if quick else [])
    seeds = 1 if quick else seeds
    rows, diffs = [], []
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
        rows.append([1000 * i, round(100 * raw, 2), round(100 * e, 2), round(100 * s, 2), round(100 * (e - raw), 2)])
    med = statistics.median(diffs)
    return ExperimentResult(
        name="weight-averaging",
        claim="EMA (and SWA) weights at the end of a short run score at least as well as the raw weights.",
        columns=["seed", "raw %", f"EMA {decay} %", f"SWA from {swa_start:.0%} %", "EMA − raw (points)"],
        rows=rows,
        verdict=f"median EMA − raw = {100 * med:+.2f} points over {seeds} seeds (claim: ≥ 0)",
        passed=med >= 0.0,
        details={"seeds": seeds, "decay": decay, "swa_start": swa_start, "recipe": "recipes/ensemble_mnist1d.toml",
                 "overrides": overrides},
    )
