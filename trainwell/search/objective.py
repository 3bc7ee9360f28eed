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

Building and training a trial is in ONE function per engine, so the assembly that builds runs can
be swapped underneath:

* `train_one(prepared, run_dir, callbacks)` — one trial through `make_trainer` + `Trainer.fit`,
  the exact semantics of `trainwell train`, with the search's callbacks (pruning) in the list;
  the run directory gets ``config.json``, ``metrics.jsonl`` and ``summary.json``.
* `train_batch(prepared, recipes)` — K trials that differ only in ``optim.lr``,
  ``optim.weight_decay``, ``optim.options.momentum`` and ``model.dropout`` as ONE batched model
  with `trainwell.vectorized.train_many` (same init, batch order, schedule, evaluation steps and
  weight-decay rule — no decay on biases and norm parameters — as the Trainer). Dropout masks come
  from a per-trial generator instead of torch's global one, so with dropout the two paths agree
  statistically, not bit for bit. `vectorize_problem` says what it refuses; a pruner is one of
  those things, since a batch cannot stop one of its members early.
"""
from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from trainwell.config import Recipe, apply_override, recipe_from_dict, recipe_to_dict
from trainwell.errors import UserError
from trainwell.io import atomic_write_json
from trainwell.search.prune_callback import PruningCallback, TrialPruning
from trainwell.search.toml_out import format_value

VECTOR_KEYS = {"optim.lr": "lr", "optim.weight_decay": "weight_decay", "optim.options.momentum": "momentum",
               "model.dropout": "dropout"}
VECTOR_OPTIMIZERS = {"adam": "adam", "adamw": "adamw", "sgd": "sgd", "momentum": "sgd"}


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


def majority_rate(y: torch.Tensor) -> float:
    """The share of the most frequent class in labels `y` (the accuracy of always guessing it)."""
    return float(torch.bincount(y.flatten().cpu()).max().item() / max(len(y), 1))


# ---------------------------------------------------------------------------------- the two engines
def train_one(p, run_dir: Path | None, callbacks: list) -> Any:
    """Train one prepared trial (a `trainwell.train.run.Prepared`) with `callbacks`; the final `TrainState`."""
    from trainwell.train.run import make_trainer

    return make_trainer(p, run_dir, progress=False, callbacks=list(callbacks)).fit()


def train_batch(p, recipes: list[Recipe], progress: Callable | None = None) -> Any:
    """Train K trials (recipes differing only in VECTOR_KEYS) as one batched model; a `ManyResult`."""
    from trainwell.models import MODELS
    from trainwell.optim import build_schedule
    from trainwell.train.run import total_steps_for
    from trainwell.train.trainer import default_eval_every
    from trainwell.vectorized import train_many

    base, data = recipes[0], p.data
    t = base.train
    batch_size = min(t.batch_size, len(data.x_train))
    spe = len(data.x_train) // batch_size
    steps = total_steps_for(base, spe)
    opt_name = VECTOR_OPTIMIZERS[base.optim.name]
    hparams = []
    for r in recipes:
        h: dict[str, Any] = {"seed": r.seed, "lr": r.optim.lr, "weight_decay": r.optim.weight_decay}
        if opt_name == "sgd":
            h["momentum"] = float(r.optim.options.get("momentum", 0.9 if r.optim.name == "momentum" else 0.0))
        if "dropout" in r.model:
            h["dropout"] = float(r.model["dropout"])
        hparams.append(h)

    def make_model(generator: torch.Generator):
        return MODELS.build(base.model, input_shape=tuple(data.input_shape), num_classes=data.num_classes, generator=generator)

    return train_many(make_model, hparams, data.x_train, data.y_train, steps=steps, batch_size=batch_size,
                      optimizer=opt_name, schedule=build_schedule(base.schedule), x_val=data.x_val, y_val=data.y_val,
                      eval_every=t.eval_every or default_eval_every(spe, steps), device=p.device, progress=progress)


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

    def prepared(self, recipe: Recipe):
        """`Prepared` with data cached per (data section, seed, device): trials share one copy."""
        from trainwell.train.run import Prepared, build_model, pick_device, prepare_data

        device = pick_device(recipe.train.device)
        key = json.dumps([recipe.data.model_dump(mode="json"), recipe.seed, str(device)], sort_keys=True)
        if key not in self._data:
            self._data = {key: prepare_data(recipe, device)}
        data, pipeline = self._data[key]
        model = build_model(recipe, data.input_shape, data.num_classes, recipe.seed,
                            example_batch=data.x_train[:512].cpu()).to(device)
        return Prepared(recipe, data, pipeline, model, device)

    # ------------------------------------------------------------------ one trial, the Trainer way
    def __call__(self, spec: TrialSpec) -> dict[str, Any]:
        recipe = self.recipe_for(spec.params, spec.steps)
        if spec.run_dir is not None:
            spec.run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_json(spec.run_dir / "config.json", recipe_to_dict(recipe))
        p = self.prepared(recipe)
        callbacks = []
        if spec.pruning is not None:
            callbacks.append(PruningCallback(spec.pruning, majority_rate(p.data.y_val), len(p.data.y_val)))
        start = time.perf_counter()
        state = train_one(p, spec.run_dir, callbacks)
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
        """Why these trials cannot train as one batched model (None: they can)."""
        if pruner != "none":
            return (f"pruner {pruner!r}: a pruner stops single trials early, and a vectorized batch trains all of its "
                    "trials to the end")
        other = [k for k in keys if k not in VECTOR_KEYS]
        if other:
            return (f"the space has {other}, which change more than the continuous hyperparameters "
                    f"{sorted(VECTOR_KEYS)} that train_many batches")
        try:
            recipe = self.recipe_for({}, steps)
        except UserError as exc:
            return str(exc)
        o, t, a = recipe.optim, recipe.train, recipe.augment
        if o.name not in VECTOR_OPTIMIZERS:
            return f"optim.name={o.name!r} (train_many supports {sorted(VECTOR_OPTIMIZERS)})"
        extra = [k for k in o.options if not (k == "momentum" and VECTOR_OPTIMIZERS[o.name] == "sgd")]
        if extra:
            return f"optim.options {extra} (train_many supports momentum for sgd only)"
        if "optim.options.momentum" in keys and VECTOR_OPTIMIZERS[o.name] != "sgd":
            return f"optim.options.momentum with optim.name={o.name!r} (momentum applies to sgd)"
        for what, bad in (("optim.l1", o.l1), ("optim.l2", o.l2), ("optim.grad_clip", o.grad_clip),
                          ("train.label_smoothing", t.label_smoothing), ("train.ema", t.ema), ("train.swa", t.swa),
                          ("augment.train", a.train), ("augment.mix", a.mix)):
            if bad:
                return f"{what}={bad!r} (not supported by train_many)"
        if "model.dropout" in keys and "dropout" not in recipe.model and recipe.model.get("name") not in ("mlp", "convnet"):
            return "model.dropout on a model without a dropout option"
        from trainwell.vectorized.checks import refuse_buffers

        try:
            p = self.prepared(recipe)
            refuse_buffers(p.model)
        except UserError as exc:
            return str(exc)
        return None

    def run_many(self, specs: list[TrialSpec]) -> list[dict[str, Any] | BaseException]:
        """K trials as one batched model: one outcome (a result dict or an exception) per spec."""
        recipes = [self.recipe_for(s.params, s.steps) for s in specs]
        problem = self.vectorize_problem(sorted(specs[0].params), specs[0].steps)
        if problem is not None:
            raise UserError(f"these trials cannot be vectorized: {problem}")
        p = self.prepared(recipes[0])
        start = time.perf_counter()
        result = train_batch(p, recipes)
        seconds = time.perf_counter() - start
        y_val = p.data.y_val
        logp = torch.log_softmax(result.logits(p.data.x_val).float(), dim=-1)  # K×N×C, final models
        nll = -logp.gather(2, y_val.view(1, -1, 1).expand(len(specs), -1, 1)).mean(dim=(1, 2))
        final, val_loss = result.final_val_acc.tolist(), nll.tolist()
        best = result.val_acc.max(dim=1).values.tolist()
        finite = torch.isfinite(result.train_loss).all(dim=1).tolist()
        last_loss = result.train_loss[:, -1].tolist()
        steps = int(result.train_loss.shape[1])  # loss recorded every step
        outcomes: list[dict[str, Any] | BaseException] = []
        for k, (spec, recipe) in enumerate(zip(specs, recipes)):
            if not finite[k]:
                outcomes.append(TrialFailed(f"the training loss became non-finite (lr={recipe.optim.lr:.3g}); "
                                            "the learning rate is likely too high"))
                continue
            out = {"value": val_loss[k] if spec.metric == "val_loss" else final[k], "val_accuracy": final[k],
                   "val_loss": val_loss[k], "best_val_accuracy": best[k], "train_loss": last_loss[k], "steps_run": steps, "steps_budget": steps,
                   "train_seconds": seconds / len(specs), "engine": f"vectorized-{result.engine}", "batched_trials": len(specs)}
            if spec.run_dir is not None:
                spec.run_dir.mkdir(parents=True, exist_ok=True)
                atomic_write_json(spec.run_dir / "config.json", recipe_to_dict(recipe))
                atomic_write_json(spec.run_dir / "summary.json", {**out, "number": spec.number, "stage": spec.stage,
                                                                  "params": spec.params})
            outcomes.append(out)
        return outcomes


def is_finite(x: float) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)
