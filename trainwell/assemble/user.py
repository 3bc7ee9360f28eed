"""A run around a model and data the user built: the recipe keys as keyword arguments.

    run = from_model(model, (x_train, y_train), val=val_loader, epochs=5, lr=3e-4)
    state = run.fit()

`train`/`val`/`test` may be (x, y) tensors or arrays, a torch Dataset, or a DataLoader yielding
tuples or dicts. Keyword arguments map onto recipe keys (`FIT_KEYS`); everything not given takes
the defaults below (the lectures' starting point), and `describe_defaults` says what was used.

Defaults: AdamW (decoupled weight decay 0.01, none on biases and norm parameters), lr 1e-3,
cosine decay to 0 over the run, batch 128, 10 epochs, fp32; the task inferred from the targets
(integer labels → classification, ...). Pass `optimizer=` (a torch Optimizer over the model's
parameters) or `loss=` (a callable) to use your own objects instead.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainwell.assemble.data import pick_device
from trainwell.assemble.run import Run, RunData, build_run
from trainwell.config import Recipe, recipe_from_dict
from trainwell.errors import UserError, did_you_mean
from trainwell.train.callbacks import Callback

# keyword → recipe key
FIT_KEYS: dict[str, str] = {
    "lr": "optim.lr", "weight_decay": "optim.weight_decay", "optimizer": "optim.name", "optimizer_options": "optim.options",
    "l1": "optim.l1", "l2": "optim.l2", "schedule": "schedule", "epochs": "train.epochs", "steps": "train.steps",
    "batch_size": "train.batch_size", "task": "train.task", "loss": "train.loss", "label_smoothing": "train.label_smoothing",
    "class_weights": "train.class_weights", "shuffle": "train.shuffle", "precision": "train.precision",
    "accumulate": "train.accumulate", "compile": "train.compile", "clip_grad_norm": "train.clip_grad_norm",
    "log_grad_norm": "train.log_grad_norm", "ema": "train.ema", "swa": "train.swa", "eval_every": "train.eval_every",
    "log_every": "train.log_every", "checkpoint_seconds": "train.checkpoint_seconds", "test_weights": "train.test_weights", "seed": "seed", "name": "name",
    "augment": "augment.train", "mix": "augment.mix", "sampler": "train.sampler",
}
DEFAULTS: dict[str, Any] = {"optim.name": "adamw", "optim.lr": 1e-3, "optim.weight_decay": 0.01,
                            "schedule": {"name": "cosine"}, "train.batch_size": 128, "name": "fit"}


def _set(raw: dict[str, Any], key: str, value: Any) -> None:
    node = raw
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def recipe_from_kwargs(kwargs: dict[str, Any], base: Recipe | None = None) -> Recipe:
    """A Recipe from `FIT_KEYS` keyword arguments over `base` (or over `DEFAULTS`)."""
    unknown = [k for k in kwargs if k not in FIT_KEYS]
    if unknown:
        raise UserError(f"unknown argument {unknown[0]!r}{did_you_mean(unknown[0], FIT_KEYS)}; "
                        f"valid: {', '.join(sorted(FIT_KEYS))}")
    from trainwell.config import recipe_to_dict

    raw: dict[str, Any] = recipe_to_dict(base) if base is not None else {}
    if base is None:
        for key, value in DEFAULTS.items():
            _set(raw, key, value)
    for k, value in kwargs.items():
        if value is None:
            continue
        if k == "schedule" and isinstance(value, str):
            value = {"name": value}
        if k == "augment" and not isinstance(value, list):
            value = [value]
        _set(raw, FIT_KEYS[k], value)
    if "train.steps" in {FIT_KEYS[k] for k, v in kwargs.items() if v is not None}:
        raw.get("train", {}).pop("epochs", None)
    if "train.epochs" in {FIT_KEYS[k] for k, v in kwargs.items() if v is not None}:
        raw.get("train", {}).pop("steps", None)
    raw.pop("data", None)
    return recipe_from_dict(raw, "trainwell.fit arguments")


def _user_data(train: Any, val: Any, test: Any, keys: tuple[str | None, str | None]) -> RunData:
    from trainwell.data.adapt import first_batch, xy_tensors

    pair = xy_tensors(train, "train")
    val_pair = xy_tensors(val, "val") if val is not None else None
    test_pair = xy_tensors(test, "test") if test is not None else None
    x0, y0 = pair if pair is not None else first_batch(train, 64, keys)
    if not isinstance(x0, torch.Tensor):
        raise UserError(f"the training inputs must be tensors, got {type(x0).__name__}")
    y_all = pair[1] if pair is not None else None
    num_classes = None
    if y_all is not None and not torch.is_floating_point(y_all) and y_all.dim() == 1:
        if bool((y_all < 0).any()):
            raise UserError(f"train: labels must be in [0, C), found {int(y_all.min())}")
        num_classes = int(y_all.max()) + 1
    how = "tensors" if pair is not None else type(train).__name__
    desc = f"{how}: {len(pair[0]) if pair is not None else '?'} train examples, input {tuple(x0.shape[1:])}"
    return RunData(train=pair if pair is not None else train, val=val_pair if val_pair is not None else val,
                   test=test_pair if test_pair is not None else test, num_classes=num_classes,
                   input_shape=tuple(x0.shape[1:]), description=desc, y_train=y_all if y_all is not None else y0)


def probe_forward(model: nn.Module, x: torch.Tensor, prefix: str = "") -> torch.Tensor:
    """`model(x)` in eval mode without gradients (its train/eval mode restored): the outputs tensor,
    or a `UserError` (each message starting with `prefix`) when the model fails on `x` or returns
    something else than a tensor."""
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(x)
    except Exception as exc:  # noqa: BLE001 — the user's model failed on the user's data: say so
        raise UserError(f"{prefix}the model fails on a batch of the training data (input shape {tuple(x.shape)}): "
                        f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}") from exc
    finally:
        model.train(was)
    if not isinstance(out, torch.Tensor):
        raise UserError(f"{prefix}the model must return a tensor of outputs, got {type(out).__name__}")
    return out


def check_outputs(model: nn.Module, data: RunData, run: Run) -> None:
    """One forward on a few examples: the outputs fit the task and the labels (a clear error now,
    not an index error deep inside the loss later)."""
    from trainwell.data.adapt import first_batch

    x, y = first_batch(data.train, 8)
    out = probe_forward(model, x.to(run.device))
    if run.task.name == "classification":
        if out.dim() != 2:
            raise UserError(f"classification needs outputs N×C (logits), the model gives shape {tuple(out.shape)}")
        classes = out.shape[1]
        if data.num_classes is not None and data.num_classes > classes:
            raise UserError(f"the labels go up to {data.num_classes - 1} but the model has {classes} outputs; "
                            f"give the last layer {data.num_classes} outputs (or fix the labels)")
        if data.num_classes is None:
            data.num_classes = classes


def from_model(model: nn.Module, train: Any, val: Any = None, *, test: Any = None, recipe: Recipe | None = None,
               optimizer: Any = None, loss: Any = None, callbacks: Sequence[Callback] = (),
               device: str | torch.device | None = None, run_dir: str | Path | None = None, progress: bool = False,
               keys: tuple[str | None, str | None] = (None, None), metrics: Any = None, **kwargs: Any) -> Run:
    """A `Run` of the user's `model` on the user's data (see the module docstring); `metrics`: extra
    validation metrics (names like "f1", or {name: torchmetrics Metric or fn(outputs, targets)})."""
    if not isinstance(model, nn.Module):
        raise UserError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    user_optimizer = optimizer if isinstance(optimizer, torch.optim.Optimizer) else None
    if optimizer is not None and user_optimizer is None:
        kwargs["optimizer"] = optimizer
    user_loss = loss if callable(loss) and not isinstance(loss, (str, dict)) else None
    if loss is not None and user_loss is None:
        kwargs["loss"] = loss
    batch = getattr(train, "batch_size", None)  # a DataLoader's own batch size is the one trained with
    if isinstance(batch, int) and "batch_size" not in kwargs and recipe is None:
        kwargs["batch_size"] = batch
    rec = recipe_from_kwargs(kwargs, recipe)
    if device is None:
        first = next(iter(model.parameters()), None)
        dev = first.device if first is not None and first.device.type != "cpu" else pick_device("auto")
    else:
        dev = torch.device(device) if not isinstance(device, torch.device) else device
    data = _user_data(train, val, test, keys)
    run = build_run(rec, model, data, device=dev, run_dir=Path(run_dir) if run_dir is not None else None,
                    progress=progress, callbacks=callbacks, optimizer=user_optimizer, loss=user_loss,
                    extra_checkpoint={"config": _plain(rec), "model_class": model_class_name(model)},
                    metrics=metrics)
    check_outputs(run.model, data, run)
    if rec.augment.mix is not None and data.num_classes is None:
        raise UserError("augment.mix needs the number of classes; give (x, y) tensors with integer labels")
    return run


def model_class_name(model: nn.Module) -> str:
    """``module.QualName`` of the model's class (through a compiled or DDP wrapper)."""
    inner = model
    for wrapper in ("_orig_mod", "module"):  # torch.compile, DistributedDataParallel
        if isinstance(getattr(inner, wrapper, None), nn.Module):
            inner = getattr(inner, wrapper)
    cls = type(inner)
    return f"{cls.__module__}.{cls.__qualname__}"


def _plain(recipe: Recipe) -> dict[str, Any]:
    from trainwell.config import recipe_to_dict

    return recipe_to_dict(recipe)


def describe_defaults(run: Run) -> str:
    """One line: what the run trains with (printed by `trainwell.fit`)."""
    r, s = run.recipe, run.settings
    opt = type(run.optimizer).__name__
    sched = r.schedule.get("name", "constant") if isinstance(r.schedule, dict) else r.schedule
    batch = getattr(run.source, "batch_size", None)
    return (f"trainwell.fit: {opt} lr {r.optim.lr:g} (weight decay {r.optim.weight_decay:g}), {sched} schedule, "
            f"{s.total_steps} steps of batch {batch if batch is not None else '?'}, {run.task.name} "
            f"({run.task_reason}), {run.trainer.precision}, on {run.device}")


__all__ = ["DEFAULTS", "FIT_KEYS", "describe_defaults", "from_model", "model_class_name", "probe_forward",
           "recipe_from_kwargs"]
