"""The objective of a search over a recipe: train it with the trial's overrides, return validation accuracy.

A trial's recipe is the raw recipe dict with each sampled value applied by `apply_override`
(``optim.lr=0.0031``), ``train.steps`` set to the stage's budget (``train.epochs`` dropped) and
``train.checkpoint = false`` (short trials need no checkpoints), then `recipe_from_dict`.

The value maximized is the **final** validation accuracy (the evaluation after the last step),
not the best one seen during training: the best of ~20 noisy evaluations on the same validation
set is biased upwards, and the final one is what `trainwell train` of the written best recipe
reproduces. ``best_val_accuracy`` is kept as a user attribute. The test split is never looked at.

Two engines:

* **trainer** (`__call__`): one trial through `make_trainer` + `Trainer.fit` — the exact
  semantics of `trainwell train`; the run directory gets ``config.json``, ``metrics.jsonl`` and
  ``summary.json``.
* **vectorized** (`run_many`): K trials that differ only in ``optim.lr``, ``optim.weight_decay``,
  ``optim.options.momentum`` and ``model.dropout`` train as ONE batched model with
  `trainwell.vectorized.train_many` (same init, batch order, schedule and evaluation
  steps as the Trainer). Where it differs from the Trainer (see `vectorize_problem` for what it
  refuses): weight decay also applies to biases (the Trainer's parameter groups exempt biases and
  norm parameters), and dropout masks come from a per-trial generator instead of torch's global
  one, so with dropout the two paths agree statistically, not bit for bit.
"""
from __future__ import annotations

import copy
import json
import math
import time
from pathlib import Path
from typing import Any


from trainwell.config import Recipe, apply_override, recipe_from_dict, recipe_to_dict
from trainwell.errors import UserError
from trainwell.io import atomic_write_json
from trainwell.search.toml_out import format_value
from trainwell.search.worker import TrialSpec



class TrialFailed(RuntimeError):
    """The trial ran but its result is unusable (diverged: NaN/Inf loss)."""


def trial_raw(raw: dict[str, Any], params: dict[str, Any], steps: int | None) -> dict[str, Any]:
    """The raw recipe dict of a trial: overrides applied, the stage's step budget, no checkpoints."""
    out = copy.deepcopy(raw)
    out.pop("search", None)
    for key, value in params.items():
        apply_override(out, f"{key}={format_value(value)}")
    train = out.setdefault("train", {})
    if steps is not None:
        train.pop("epochs", None)
        train["steps"] = steps
    train["checkpoint"] = False
    return out


def _write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write_json(path, data)


class RecipeObjective:
    """Picklable objective over a raw recipe dict (see the module docstring)."""

    def __init__(self, raw: dict[str, Any], source: str = "recipe"):
        self.raw = copy.deepcopy(raw)
        self.source = source
        self._data: dict[str, Any] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"raw": self.raw, "source": self.source}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["raw"], state["source"])

    # ------------------------------------------------------------------ helpers
    def recipe_for(self, params: dict[str, Any], steps: int | None) -> Recipe:
        return recipe_from_dict(trial_raw(self.raw, params, steps), f"{self.source} (trial overrides {params})")

    def shared_data(self, recipe: Recipe):
        """(RunData, device), cached per (data section, seed, device): trials share one copy."""
        from trainwell.assemble import pick_device, prepare

        device = pick_device(recipe.train.device)
        key = json.dumps([recipe.data.model_dump(mode="json"), recipe.seed, str(device)], sort_keys=True)
        if key not in self._data:
            self._data = {key: prepare(recipe)}
        return self._data[key]

    # ------------------------------------------------------------------ one trial, the Trainer way
    def __call__(self, spec: TrialSpec) -> dict[str, Any]:
        from trainwell.assemble import from_recipe
        from trainwell.train.callbacks import Callback

        recipe = self.recipe_for(spec.params, spec.steps)
        if spec.run_dir is not None:
            spec.run_dir.mkdir(parents=True, exist_ok=True)
            _write_json(spec.run_dir / "config.json", recipe_to_dict(recipe))
        data, device = self.shared_data(recipe)

        class Heartbeat(Callback):
            def on_log(self, state, record):  # noqa: D401 — keeps the trial alive in the study
                if spec.heartbeat is not None:
                    spec.heartbeat()

        run = from_recipe(recipe, data=data, device=device, run_dir=spec.run_dir, callbacks=[Heartbeat()])
        start = time.perf_counter()
        state = run.fit()
        seconds = time.perf_counter() - start
        if state.diverged:
            raise TrialFailed(state.stop_reason)
        result = {
            "value": state.metrics.get("val_accuracy", float("nan")),
            "best_val_accuracy": state.best_val_accuracy,
            "train_loss": state.metrics.get("loss", float("nan")),
            "train_accuracy": state.metrics.get("accuracy", float("nan")),
            "steps": state.step,
            "train_seconds": seconds,
            "engine": "trainer",
        }
        if spec.run_dir is not None:
            _write_json(spec.run_dir / "summary.json", {**result, "slot": spec.slot, "params": spec.params})
        return result

    # ------------------------------------------------------------------ many trials as one model
    def vectorize_problem(self, keys: list[str], steps: int | None = None) -> str | None:
        """Why these trials cannot train as one batched model (None: they can)."""
        from trainwell.assemble.run import model_for
        from trainwell.assemble.support import VECTOR_KEYS, members_blockers

        other = [k for k in keys if k not in VECTOR_KEYS]
        if other:
            return (f"the space has {other}, which change more than the continuous hyperparameters "
                    f"{sorted(k for k in VECTOR_KEYS if k != 'seed')} that the vectorized engine batches")
        try:
            recipe = self.recipe_for({}, steps)
        except UserError as exc:
            return str(exc)
        if "optim.options.momentum" in keys and recipe.optim.name not in ("sgd", "momentum"):
            return f"optim.options.momentum with optim.name={recipe.optim.name!r} (momentum applies to sgd)"
        if "model.dropout" in keys and "dropout" not in recipe.model and recipe.model.get("name") not in ("mlp", "convnet"):
            return "model.dropout on a model without a dropout option"
        try:
            data, device = self.shared_data(recipe)
            blockers = members_blockers([recipe], model_for(recipe, data.input_shape, data.num_classes), device)
        except UserError as exc:
            return str(exc)
        return "; ".join(blockers) or None

    def run_many(self, specs: list[TrialSpec]) -> list[dict[str, Any] | BaseException]:
        from trainwell.assemble import train_members

        recipes = [self.recipe_for(s.params, s.steps) for s in specs]
        problem = self.vectorize_problem(sorted(specs[0].params), specs[0].steps)
        if problem is not None:
            raise UserError(f"these trials cannot be vectorized: {problem}")
        data, device = self.shared_data(recipes[0])

        def heartbeat() -> None:
            for s in specs:
                if s.heartbeat is not None:
                    s.heartbeat()

        heartbeat()
        result = train_members(recipes, data, device, engine="vectorized", heartbeat=heartbeat)
        outcomes: list[dict[str, Any] | BaseException] = []
        for spec, recipe, r in zip(specs, recipes, result.results):
            if r.diverged:
                outcomes.append(TrialFailed(r.message))
                continue
            out = {"value": r.value, "best_val_accuracy": r.best_val_accuracy, "train_loss": r.train_loss,
                   "steps": r.steps, "train_seconds": r.seconds, "engine": result.engine, "batched_trials": len(specs)}
            if spec.run_dir is not None:
                spec.run_dir.mkdir(parents=True, exist_ok=True)
                _write_json(spec.run_dir / "config.json", recipe_to_dict(recipe))
                _write_json(spec.run_dir / "summary.json", {**out, "slot": spec.slot, "params": spec.params})
            outcomes.append(out)
        return outcomes


def is_finite(x: float) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)
