"""The objective of a search over a recipe: train it with the trial's overrides, return its final validation figure.

A trial's recipe is the raw recipe dict with each sampled value applied by `apply_override`
(``optim.lr=0.0031``), ``train.steps`` set to the stage's budget (``train.epochs`` dropped) and
``train.checkpoint = false`` (short trials need no checkpoints), then `recipe_from_dict`.

The figure is the **final** validation accuracy (``objective = "accuracy"``, maximized) or the
final validation loss (``"val_loss"``, minimized) — the evaluation after the last step, not the
best one seen during training: the best of ~20 noisy evaluations on the same validation set is
biased, and the final one is what `trainwell train` of the written best recipe reproduces. Both
final figures and ``best_val_accuracy`` are kept as user attributes. The test split is never
looked at.

Trials are built and trained by the assembly (`trainwell.assemble`), one function per engine:

* `train_one(recipe, data, device, run_dir, callbacks)` — one trial through
  `trainwell.assemble.from_recipe`, the exact semantics of `trainwell train`, with the search's
  callbacks (pruning) in the list; the run directory gets ``config.json``, ``metrics.jsonl`` and
  ``summary.json``.
* `train_batch(recipes, data, device)` — K trials that differ only in ``optim.lr``,
  ``optim.weight_decay``, ``optim.options.momentum`` and ``model.dropout`` as ONE vectorized model
  through `trainwell.assemble.train_members` (same init, batch order, schedule, evaluation steps and
  weight-decay rule as the Trainer). Dropout masks come from a per-trial generator instead of
  torch's default one, so with dropout the two paths agree statistically, not bit for bit.
  `vectorize_problem` says what it refuses (`trainwell.assemble.support`); a pruner is one of
  those things, since a batch cannot stop one of its members early.
"""
from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from trainwell.config import Recipe, apply_override, recipe_from_dict, recipe_to_dict
from trainwell.errors import UserError
from trainwell.io import atomic_write_json
from trainwell.search.prune_callback import PruningCallback, TrialPruning
from trainwell.toml_text import format_value
from trainwell.train.tasks import majority_rate

class TrialFailed(RuntimeError):
    """The trial ran but its result is unusable (diverged: NaN/Inf loss)."""


@dataclass
class TrialSpec:
    """One trial as an objective sees it.

    metric: "accuracy" or "val_loss" (which final figure is ``value``). pruning: the trial's
    pruning state (its Optuna trial, pruner, hopeless test), None for no pruning.
    """

    number: int
    stage: int
    params: dict[str, Any]
    steps: int | None
    run_dir: Path | None = None
    metric: str = "accuracy"
    pruning: TrialPruning | None = None


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


# ---------------------------------------------------------------------------------- the two engines
def train_one(recipe: Recipe, data: Any, device: torch.device, run_dir: Path | None, callbacks: list) -> Any:
    """Train one trial with `callbacks` on the shared `data`; the final `TrainState`."""
    from trainwell.assemble import from_recipe

    return from_recipe(recipe, data=data, device=device, run_dir=run_dir, callbacks=list(callbacks)).fit()


def train_batch(recipes: list[Recipe], data: Any, device: torch.device) -> Any:
    """Train K trials (recipes differing only in the vectorized keys) as one model; a `MembersResult`."""
    from trainwell.assemble import train_members

    return train_members(recipes, data, device, engine="vectorized")


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
        recipe = self.recipe_for(spec.params, spec.steps)
        if spec.run_dir is not None:
            spec.run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_json(spec.run_dir / "config.json", recipe_to_dict(recipe))
        data, device = self.shared_data(recipe)
        callbacks = []
        if spec.pruning is not None:
            y_val = data.bundle.y_val
            callbacks.append(PruningCallback(spec.pruning, majority_rate(y_val), len(y_val)))
        start = time.perf_counter()
        state = train_one(recipe, data, device, spec.run_dir, callbacks)
        seconds = time.perf_counter() - start
        verdict = spec.pruning.verdict if spec.pruning is not None else None
        if state.diverged and verdict is None:
            raise TrialFailed(state.stop_reason)
        m = state.metrics
        result = {
            "value": m.get("val_loss" if spec.metric == "val_loss" else "val_accuracy", float("nan")),
            "val_accuracy": m.get("val_accuracy", float("nan")),
            "val_loss": m.get("val_loss", float("nan")),
            "best_val_accuracy": state.best_val_accuracy,
            "train_loss": m.get("loss", float("nan")),
            "train_accuracy": m.get("accuracy", float("nan")),
            "steps_run": state.step,
            "steps_budget": state.total_steps,
            "train_seconds": seconds,
            "engine": "trainer",
        }
        if verdict is not None:
            result["pruned"] = verdict
        if spec.run_dir is not None:
            atomic_write_json(spec.run_dir / "summary.json", {**result, "number": spec.number, "stage": spec.stage,
                                                              "params": spec.params})
        return result

    # ------------------------------------------------------------------ many trials as one model
    def vectorize_problem(self, keys: list[str], steps: int | None = None, pruner: str = "none") -> str | None:
        """Why these trials cannot train as one vectorized model (None: they can)."""
        from trainwell.assemble.run import model_for
        from trainwell.assemble.support import VECTOR_KEYS, members_blockers

        if pruner != "none":
            return (f"pruner {pruner!r}: a pruner stops single trials early, and a vectorized batch trains all of its "
                    "trials to the end")
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

    def vectorize_choice(self, k: int, steps: int | None = None):
        """Whether K trials that CAN train as one model (`vectorize_problem` is None) are faster so:
        `trainwell.vectorized.choose_engine`'s `Choice` (its reason names the measured rule)."""
        from trainwell.assemble.run import model_for
        from trainwell.vectorized import choose_engine

        recipe = self.recipe_for({}, steps)
        data, device = self.shared_data(recipe)
        batch = min(recipe.train.batch_size, len(data.train[0]))
        return choose_engine(model_for(recipe, data.input_shape, data.num_classes), k, device, batch)

    def run_many(self, specs: list[TrialSpec]) -> list[dict[str, Any] | BaseException]:
        """K trials as one vectorized model: one outcome (a result dict or an exception) per spec."""
        recipes = [self.recipe_for(s.params, s.steps) for s in specs]
        problem = self.vectorize_problem(sorted(specs[0].params), specs[0].steps)
        if problem is not None:
            raise UserError(f"these trials cannot be vectorized: {problem}")
        data, device = self.shared_data(recipes[0])
        result = train_batch(recipes, data, device)
        outcomes: list[dict[str, Any] | BaseException] = []
        for spec, recipe, r in zip(specs, recipes, result.results):
            if r.diverged:
                outcomes.append(TrialFailed(r.message))
                continue
            out = {"value": r.val_loss if spec.metric == "val_loss" else r.value, "val_accuracy": r.value,
                   "val_loss": r.val_loss, "best_val_accuracy": r.best_val_accuracy, "train_loss": r.train_loss,
                   "steps_run": r.steps, "steps_budget": r.steps, "train_seconds": r.seconds, "engine": result.engine,
                   "batched_trials": len(specs)}
            if spec.run_dir is not None:
                spec.run_dir.mkdir(parents=True, exist_ok=True)
                atomic_write_json(spec.run_dir / "config.json", recipe_to_dict(recipe))
                atomic_write_json(spec.run_dir / "summary.json", {**out, "number": spec.number, "stage": spec.stage,
                                                                  "params": spec.params})
            outcomes.append(out)
        return outcomes
