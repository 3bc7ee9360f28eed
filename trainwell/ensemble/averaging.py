"""Train one run while averaging its weights (EMA or SWA) and score both weight sets side by side.

    raw       the weights at the last step
    averaged  EMA (θ̄ ← d·θ̄ + (1−d)·θ, `EMACallback`) or SWA (uniform mean from a start fraction
              of the run, `SWACallback`), BatchNorm statistics recomputed for the averaged weights

Both are scored on the test set, with and without test-time augmentation (`tta`).

Example:
    >>> r = train_averaged(load_recipe("recipes/ensemble_mnist1d.toml"), method="ema", decay=0.99)
    >>> r["raw"]["test_accuracy"], r["averaged"]["test_accuracy"]
"""
from __future__ import annotations

import time
from typing import Any

import torch
from torch import nn

from trainwell.config import Recipe
from trainwell.train.ema import EMACallback
from trainwell.train.swa import SWACallback
from trainwell.errors import UserError

METHODS = ("ema", "swa")


def scores_of(model: nn.Module, data, tta: Any = None) -> dict[str, float]:
    """Test accuracy of `model` (eval mode), plus with test-time augmentation when `tta` is given."""
    from trainwell.train.evaluate import evaluate

    out = {"test_accuracy": evaluate(model, data.x_test, data.y_test)["accuracy"]}
    if tta is not None and tta != "none":
        from trainwell.augment import build_tta

        was = model.training
        model.eval()
        probs = build_tta(tta)(model, data.x_test, batch_size=1024)
        model.train(was)
        out["test_accuracy_tta"] = (probs.argmax(1) == data.y_test).float().mean().item()
    return out


def train_averaged(recipe: Recipe, method: str = "ema", *, decay: float = 0.99, start_fraction: float = 0.75,
                   progress: bool = False, tta: Any = None) -> dict[str, Any]:
    """Train `recipe` once with weight averaging; {"raw": scores, "averaged": scores, ...}."""
    from trainwell.assemble import from_recipe

    if method not in METHODS:
        raise UserError(f"weight averaging method must be one of {list(METHODS)}, got {method!r}")
    recipe = recipe.model_copy(deep=True)
    recipe.train.ema = recipe.train.swa = None  # the callback below is the one averaging
    callback = EMACallback(decay) if method == "ema" else SWACallback(start_fraction)
    run = from_recipe(recipe, progress=progress, callbacks=[callback])
    start = time.perf_counter()
    state = run.fit()
    seconds = time.perf_counter() - start
    if state.diverged:
        raise UserError(f"the run diverged: {state.stop_reason}")
    tta = recipe.augment.tta if tta is None else tta
    data = run.data.bundle
    averaged = callback.averaged_model(data.x_train)
    if run.device.type == "cuda":
        torch.cuda.synchronize()
    return {
        "method": method,
        "decay": decay if method == "ema" else None,
        "start_fraction": start_fraction if method == "swa" else None,
        "seed": recipe.seed,
        "steps": state.step,
        "train_seconds": seconds,
        "raw": scores_of(run.model, data, tta),
        "averaged": scores_of(averaged, data, tta),
        "model": run.model,
        "averaged_model": averaged,
        "data": data,
    }


__all__ = ["METHODS", "scores_of", "train_averaged"]
