"""Shared pieces of the experiments: data, "train this model for N steps and give me its curves",
and medians with their spread over seeds.

Training goes through the one assembly path (`trainwell.assemble.build_run`): a recipe built
with `recipe_from_dict` from the keyword arguments of `train_curve`, the recipe's model
(`model_for`) or one given, and the Trainer's metric records (no run directory → they stay in
`state.records["metrics"]`). Nothing here builds an optimizer or a loop of its own.

    data = mnist1d(subset=400)
    curve = train_curve({"name": "mlp", "widths": [100, 100]}, data, steps=300, lr=0.1, seed=0)
    curve.loss[-1], curve.val_accuracy[-1], curve.steps_to("loss", 0.5)

`train_recipes` / `train_grid` train several recipes through `trainwell.assemble.train_members`
(one vectorized model when they allow it) and return final scores only; `stop_at` is a callback for
"steps to a target"; `layer_outputs` / `never_active` measure a model's activations.

Data sets are cached per process (same arguments → the same DataBundle object); experiments
must not modify them.
"""
from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from trainwell.data import DataBundle


# ----------------------------------------------------------------------------- data
def device() -> torch.device:
    from trainwell.assemble import pick_device

    return pick_device("auto")


@functools.lru_cache(maxsize=32)
def dataset(name: str = "mnist1d", preprocess: tuple[Any, ...] = ("standardize",), subset: int | None = None,
            seed: int = 0, val_fraction: float = 0.2) -> DataBundle:
    """A built-in data set through the assembly's data path: split (val seeded by `seed`), the
    first `subset` training examples of a seeded permutation, preprocessing fitted on the training
    split only, moved to `device()`."""
    from trainwell.assemble import prepare_data
    from trainwell.config import recipe_from_dict

    recipe = recipe_from_dict({"seed": seed, "data": {"name": name, "val_fraction": val_fraction,
                                                      "preprocess": list(preprocess), "train_subset": subset}})
    bundle, _ = prepare_data(recipe, device())
    return bundle


def mnist1d(subset: int | None = None, preprocess: tuple[Any, ...] = ("standardize",), seed: int = 0,
            val_fraction: float = 0.2) -> DataBundle:
    """MNIST-1D (Greydanus 2020): signals N×1×40, 10 classes; 3200 train / 800 val / 1000 test."""
    return dataset("mnist1d", tuple(preprocess), subset, seed, val_fraction)


def digits(subset: int | None = None, preprocess: tuple[Any, ...] = ("standardize",), seed: int = 0,
           val_fraction: float = 0.2) -> DataBundle:
    """sklearn digits: 8×8 images N×1×8×8 with values 0..16 (raw), 10 classes."""
    return dataset("digits", tuple(preprocess), subset, seed, val_fraction)


# ----------------------------------------------------------------------------- training
def stop_at(key: str, threshold: float):
    """A Trainer callback that ends the run at the first log record whose `key` ("loss": ≤,
    "accuracy": ≥) reaches `threshold` — "steps to a target" without training past it."""
    from trainwell.train.callbacks import Callback

    class StopAt(Callback):
        def on_log(self, state, record) -> None:
            value = record.get(key)
            if value is not None and math.isfinite(value) and (value <= threshold if key.endswith("loss") else value >= threshold):
                state.stop = True
                state.stop_reason = f"{key} reached {threshold}"

    return StopAt()


@dataclass
class Curve:
    """The records of one training run: training loss/accuracy every `log_every` steps (the mean
    over the window), validation loss/accuracy at each evaluation, and the final metrics."""

    label: str
    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    val_steps: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    final: dict[str, float] = field(default_factory=dict)
    diverged: bool = False
    model: nn.Module | None = None
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # other streams ("stats")

    def steps_to(self, key: str, threshold: float) -> int | None:
        """The first logged step where `key` ("loss": ≤, "accuracy"/"val_accuracy": ≥) reaches
        `threshold`; None when it never does."""
        xs, ys = (self.val_steps, self.val_accuracy) if key == "val_accuracy" else (self.steps, getattr(self, key))
        below = key.endswith("loss")
        for x, y in zip(xs, ys):
            if math.isfinite(y) and (y <= threshold if below else y >= threshold):
                return x
        return None

    @property
    def final_loss(self) -> float:
        return self.loss[-1] if self.loss else float("nan")

    @property
    def final_val_accuracy(self) -> float:
        return self.val_accuracy[-1] if self.val_accuracy else float("nan")

    def record(self) -> dict[str, Any]:
        """The curves as plain lists (for a result's details or plots)."""
        return {"label": self.label, "steps": self.steps, "loss": self.loss, "accuracy": self.accuracy, "lr": self.lr,
                "val_steps": self.val_steps, "val_loss": self.val_loss, "val_accuracy": self.val_accuracy,
                "diverged": self.diverged}


def recipe_for(model_spec: dict[str, Any], *, steps: int, seed: int = 0, optimizer: str = "sgd", lr: float = 0.1,
               options: dict[str, Any] | None = None, weight_decay: float = 0.0, l2: float = 0.0,
               schedule: str | dict[str, Any] = "constant", batch_size: int = 64, log_every: int = 10,
               eval_every: int | None = None, label_smoothing: float = 0.0, augment: Sequence[Any] = (),
               mix: dict[str, Any] | None = None, clip_grad_norm: float | None = None, name: str = "experiment"):
    """The Recipe of one experiment run (every key a recipe key of `trainwell train`)."""
    from trainwell.config import recipe_from_dict

    raw: dict[str, Any] = {
        "name": name, "seed": seed, "model": dict(model_spec),
        "optim": {"name": optimizer, "lr": lr, "weight_decay": weight_decay, "l2": l2, "options": dict(options or {})},
        "schedule": {"name": schedule} if isinstance(schedule, str) else dict(schedule),
        "train": {"steps": steps, "batch_size": batch_size, "log_every": log_every, "eval_every": eval_every,
                  "checkpoint": False, "label_smoothing": label_smoothing, "clip_grad_norm": clip_grad_norm},
        "augment": {"train": list(augment), "mix": mix},
    }
    return recipe_from_dict(raw, f"experiment {name}")


def build_model(model_spec: dict[str, Any], data: DataBundle, seed: int = 0) -> nn.Module:
    """The model of `model_spec` for `data`, initialized from `seed` (LSUV gets a data batch), on
    the data's device."""
    from trainwell.assemble import model_for

    recipe = recipe_for(model_spec, steps=1, seed=seed)
    model = model_for(recipe, data.input_shape, data.num_classes, seed, example_batch=data.x_train[:512].cpu())
    return model.to(data.x_train.device)


def rng_devices(x: torch.Tensor) -> list[int]:
    """The CUDA devices `torch.random.fork_rng` must fork for random ops on `x`'s device."""
    return [x.device.index if x.device.index is not None else torch.cuda.current_device()] if x.is_cuda else []


def train_curve(model_spec: dict[str, Any], data: DataBundle, *, steps: int, seed: int = 0, label: str = "",
                model: nn.Module | None = None, callbacks: Sequence[Any] = (), **keys: Any) -> Curve:
    """Train `model_spec` (or `model`) on `data` for `steps` optimizer steps through
    `trainwell.assemble.build_run` and return its curves; `keys` are `recipe_for` keywords
    (optimizer, lr, options, schedule, batch_size, augment, mix, label_smoothing, l2, ...)."""
    from trainwell.assemble import RunData, build_run

    recipe = recipe_for(model_spec, steps=steps, seed=seed, name=label or "experiment", **keys)
    if model is None:
        model = build_model(model_spec, data, seed)
    run = build_run(recipe, model, RunData.of_bundle(data), device=data.x_train.device, steps=steps, seed=seed,
                    callbacks=list(callbacks), label=label or None)
    state = run.fit()
    curve = Curve(label=label, final=dict(state.metrics), diverged=state.diverged, model=run.model,
                  records={k: v for k, v in state.records.items() if k != "metrics"})
    for rec in state.records.get("metrics", []):
        if rec.get("split") == "train":
            curve.steps.append(int(rec["step"]))
            curve.loss.append(float(rec["loss"]))
            curve.accuracy.append(float(rec.get("accuracy", float("nan"))))
            curve.lr.append(float(rec.get("lr", float("nan"))))
        elif rec.get("split") == "val":
            curve.val_steps.append(int(rec["step"]))
            curve.val_loss.append(float(rec.get("loss", float("nan"))))
            curve.val_accuracy.append(float(rec.get("accuracy", float("nan"))))
    return curve


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Accuracy of `model` (in eval mode) on (x, y) — `scores`' accuracy."""
    return scores(model, x, y)["accuracy"]


def scores(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Loss and accuracy of `model` (eval mode) on (x, y)."""
    from trainwell.train.evaluate import evaluate

    model.eval()
    return {k: float(v) for k, v in evaluate(model, x, y).items()}


# ----------------------------------------------------------------------------- numbers over seeds
def finite(values: Sequence[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def median(values: Sequence[float | None], missing: float = float("nan")) -> float:
    """Median of the finite values (`missing` when there are none)."""
    vals = finite(values)
    return statistics.median(vals) if vals else missing


def spread(values: Sequence[float | None]) -> dict[str, Any]:
    """{"median", "min", "max", "n", "values"} of the finite values (None/NaN/Inf are counted out)."""
    vals = finite(values)
    return {"median": statistics.median(vals) if vals else float("nan"), "min": min(vals) if vals else float("nan"),
            "max": max(vals) if vals else float("nan"), "n": len(vals), "values": list(values)}


def cell(values: Sequence[float | None], scale: float = 1.0, digits: int = 1, unit: str = "") -> str:
    """'median [min–max]' of the finite values × `scale` (one value: just it; none: 'n/a');
    e.g. cell([0.91, 0.93, 0.92], 100) → '92.0 [91.0–93.0]'."""
    vals = [v * scale for v in finite(values)]
    if not vals:
        return "n/a"
    missing = len(values) - len(vals)
    extra = f" ({missing} n/a)" if missing else ""
    m = statistics.median(vals)
    if len(vals) == 1:
        return f"{_fmt(m, digits)}{unit}{extra}"
    return f"{_fmt(m, digits)}{unit} [{_fmt(min(vals), digits)}–{_fmt(max(vals), digits)}]{extra}"


def _fmt(value: float, digits: int) -> str:
    if value != 0 and (abs(value) < 10 ** -digits or abs(value) >= 1e6):
        return f"{value:.{max(digits, 1)}e}"
    return f"{value:.{digits}f}"


# ----------------------------------------------------------------------------- measuring a model
@torch.no_grad()
def layer_outputs(model: nn.Module, x: torch.Tensor, prefix: str = "act", train: bool = False) -> dict[str, torch.Tensor]:
    """The outputs of the modules whose name starts with `prefix` (trainwell's builders name
    activations act1, act2, ...) on `x`, in eval mode — or, with `train`, in training mode on a
    copy (BatchNorm normalizes with the batch's statistics; the model's running averages are
    untouched); the model's mode is restored."""
    import copy

    if train:
        model = copy.deepcopy(model)
    outputs: dict[str, torch.Tensor] = {}
    hooks = [m.register_forward_hook(lambda _m, _i, out, name=n: outputs.__setitem__(name, out.detach()))
             for n, m in model.named_modules() if n.startswith(prefix)]
    was_training = model.training
    model.train(train)
    try:
        model(x)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return outputs


def never_active(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per activation layer, a boolean mask of the units whose output is ≤ 0 for EVERY example of x
    (for ReLU: dead — no gradient reaches their weights from these examples)."""
    return {name: (out.transpose(0, 1).reshape(out.shape[1], -1) <= 0).all(dim=1)
            for name, out in layer_outputs(model, x).items()}


def train_recipes(recipes: Sequence[Any], data: DataBundle) -> list[dict[str, Any]]:
    """Train each recipe on `data` through `trainwell.assemble.train_members` — as ONE vectorized
    model when they allow it (MLPs differing only in seed, lr, weight decay, momentum or dropout;
    sgd/momentum/adam; no augmentation, ...), else one by one — and return, per recipe,
    {"val", "test", "train", "train_loss", "diverged", "model", "engine"} with the final validation,
    test and (eval-mode) training accuracy."""
    from trainwell.assemble import RunData, train_members

    result = train_members(list(recipes), RunData.of_bundle(data), data.x_train.device)
    out = []
    for model, member in zip(result.models, result.results):
        bad = member.diverged
        out.append({"val": member.value, "train_loss": member.train_loss, "diverged": bad, "model": model,
                    "engine": result.engine,
                    "test": float("nan") if bad else accuracy(model, data.x_test, data.y_test),
                    "train": float("nan") if bad else accuracy(model, data.x_train, data.y_train)})
    return out


def train_grid(model_spec: dict[str, Any], data: DataBundle, *, steps: int, lrs: Sequence[float],
               seeds: Sequence[int], **keys: Any) -> dict[tuple[float, int], dict[str, Any]]:
    """`train_recipes` over every (lr, seed) of one model spec: {(lr, seed): result}."""
    grid = [(lr, seed) for lr in lrs for seed in seeds]
    recipes = [recipe_for(model_spec, steps=steps, seed=seed, lr=lr, name=f"lr{lr}-seed{seed}", **keys)
               for lr, seed in grid]
    return dict(zip(grid, train_recipes(recipes, data)))
