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

import torch

from trainwell.config import Recipe, apply_override, recipe_from_dict, recipe_to_dict
from trainwell.errors import UserError
from trainwell.io import atomic_write_json
from trainwell.search.toml_out import format_value
from trainwell.search.worker import TrialSpec

VECTOR_KEYS = {"optim.lr": "lr", "optim.weight_decay": "weight_decay", "optim.options.momentum": "momentum",
               "model.dropout": "dropout"}
VECTOR_OPTIMIZERS = {"adam": "adam", "adamw": "adamw", "sgd": "sgd", "momentum": "sgd"}


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

    def prepared(self, recipe: Recipe):
        """`Prepared` with data cached per (data section, seed, device): trials share one copy."""
        from trainwell.train.run import Prepared, build_model, pick_device, prepare_data

        device = pick_device(recipe.train.device)
        key = json.dumps([recipe.data.model_dump(mode="json"), recipe.seed, str(device)], sort_keys=True)
        if key not in self._data:
            self._data = {key: prepare_data(recipe, device)}
        data, pipeline = self._data[key]
        model = build_model(recipe, data.input_shape, data.num_classes, recipe.seed).to(device)
        return Prepared(recipe, data, pipeline, model, device)

    # ------------------------------------------------------------------ one trial, the Trainer way
    def __call__(self, spec: TrialSpec) -> dict[str, Any]:
        from trainwell.train.callbacks import Callback
        from trainwell.train.run import make_trainer

        recipe = self.recipe_for(spec.params, spec.steps)
        if spec.run_dir is not None:
            spec.run_dir.mkdir(parents=True, exist_ok=True)
            _write_json(spec.run_dir / "config.json", recipe_to_dict(recipe))
        p = self.prepared(recipe)

        class Heartbeat(Callback):
            def on_log(self, state, record):  # noqa: D401 — keeps the trial alive in the study
                if spec.heartbeat is not None:
                    spec.heartbeat()

        trainer = make_trainer(p, spec.run_dir, progress=False, callbacks=[Heartbeat()])
        start = time.perf_counter()
        state = trainer.fit()
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
        from trainwell.vectorized import train_many
        from trainwell.models import MODELS
        from trainwell.optim import build_schedule
        from trainwell.train.run import total_steps_for
        from trainwell.train.trainer import default_eval_every

        recipes = [self.recipe_for(s.params, s.steps) for s in specs]
        problem = self.vectorize_problem(sorted(specs[0].params), specs[0].steps)
        if problem is not None:
            raise UserError(f"these trials cannot be vectorized: {problem}")
        base = recipes[0]
        p = self.prepared(base)
        data = p.data
        t = base.train
        batch_size = min(t.batch_size, len(data.x_train))
        spe = len(data.x_train) // batch_size
        steps = total_steps_for(base, spe)
        eval_every = t.eval_every or default_eval_every(spe, steps)
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

        def progress(step, total, info):
            for s in specs:
                if s.heartbeat is not None:
                    s.heartbeat()

        schedule = build_schedule(base.schedule)
        start = time.perf_counter()
        result = train_many(make_model, hparams, data.x_train, data.y_train, steps=steps, batch_size=batch_size,
                            optimizer=opt_name, schedule=schedule, x_val=data.x_val, y_val=data.y_val,
                            eval_every=eval_every, device=p.device, progress=progress)
        seconds = time.perf_counter() - start
        final = result.final_val_acc.tolist()
        best = result.val_acc.max(dim=1).values.tolist()
        finite = torch.isfinite(result.train_loss).all(dim=1).tolist()
        last_loss = result.train_loss[:, -1].tolist()
        outcomes: list[dict[str, Any] | BaseException] = []
        for k, (spec, recipe) in enumerate(zip(specs, recipes)):
            if not finite[k]:
                outcomes.append(TrialFailed(f"the training loss became non-finite (lr={recipe.optim.lr:.3g}); "
                                            "the learning rate is likely too high"))
                continue
            out = {"value": final[k], "best_val_accuracy": best[k], "train_loss": last_loss[k], "steps": steps,
                   "train_seconds": seconds / len(specs), "engine": f"vectorized-{result.engine}", "batched_trials": len(specs)}
            if spec.run_dir is not None:
                spec.run_dir.mkdir(parents=True, exist_ok=True)
                _write_json(spec.run_dir / "config.json", recipe_to_dict(recipe))
                _write_json(spec.run_dir / "summary.json", {**out, "slot": spec.slot, "params": spec.params})
            outcomes.append(out)
        return outcomes


def is_finite(x: float) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)
