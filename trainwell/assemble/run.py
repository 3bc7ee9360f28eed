"""The one place a recipe becomes a run: `build_run`, and the variants every command uses.

    run = from_recipe(load_recipe("default"))                 # data, model, optimizer, ... from a recipe
    run = from_model(my_model, (x, y), val_loader, epochs=5)  # your model and data, recipe defaults
    state = run.fit()                                         # the Trainer's final TrainState

`build_run(recipe, model, data, ...)` turns a recipe's optimizer, schedule, loss/task,
augmentation, penalty, callbacks and trainer settings into a `Run` around a given model and data.
Every variant calls it:

* `from_recipe`: the recipe's data (preprocessing fitted on the training split) and model;
* `from_model`: a model and data the user built — (x, y) tensors/arrays, a Dataset or a
  DataLoader — with recipe keys given as keyword arguments (`trainwell.fit` is this);
* `trainwell.assemble.phase`: some parameters frozen, per-layer learning rates (fine-tuning);
* `trainwell.assemble.members`: N members of a recipe, vectorized when that is faster.

A new recipe key is added by reading it in `trainwell.assemble.parts` (and, when some variant
cannot honour it, refusing it in `trainwell.assemble.support`).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainwell.assemble import parts
from trainwell.assemble.data import pick_device, prepare_data
from trainwell.config import Recipe, recipe_to_dict
from trainwell.data import DataBundle
from trainwell.errors import UserError
from trainwell.preprocess import Pipeline
from trainwell.train.callbacks import Callback
from trainwell.train.settings import TrainerSettings
from trainwell.train.state import TrainState
from trainwell.train.tasks import Task
from trainwell.train.trainer import Trainer


@dataclass
class RunData:
    """The data of a run: train/val/test as tensors pairs, Datasets or DataLoaders, and what they are."""

    train: Any
    val: Any = None
    test: Any = None
    num_classes: int | None = None
    input_shape: tuple[int, ...] | None = None
    description: str = ""
    bundle: DataBundle | None = None      # recipe data (tensors), when the run has them
    pipeline: Pipeline | None = None      # preprocessing fitted on the training split
    y_train: torch.Tensor | None = None   # training targets when known (task inference, class weights)

    @classmethod
    def of_bundle(cls, data: DataBundle, pipeline: Pipeline | None = None) -> "RunData":
        has_val = len(data.x_val) > 0
        return cls(train=(data.x_train, data.y_train), val=(data.x_val, data.y_val) if has_val else None,
                   test=(data.x_test, data.y_test) if len(data.x_test) else None, num_classes=data.num_classes,
                   input_shape=tuple(data.input_shape), description=data.describe(), bundle=data,
                   pipeline=pipeline, y_train=data.y_train)


@dataclass
class Run:
    """Everything a training run is made of, built from a recipe; `fit()` trains it."""

    recipe: Recipe
    model: nn.Module
    data: RunData
    source: Any
    optimizer: torch.optim.Optimizer
    scheduler: Any
    settings: TrainerSettings
    task: Task
    task_reason: str
    loss: Any
    augment: Any
    mixer: Any
    penalty: Any
    callbacks: list[Callback]
    device: torch.device
    label: str
    metrics: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    _trainer: Trainer | None = None

    @property
    def trainer(self) -> Trainer:
        if self._trainer is None:
            self._trainer = Trainer(
                self.model, self.source, self.optimizer, self.settings, scheduler=self.scheduler, loss=self.loss,
                task=self.task, val=self.data.val, augment=self.augment, mixer=self.mixer,
                num_classes=self.data.num_classes, penalty=self.penalty, callbacks=self.callbacks,
                metrics=self.metrics)
        return self._trainer

    def fit(self, resume: str | Path | dict[str, Any] | None = None) -> TrainState:
        return self.trainer.fit(resume=resume)

    def describe(self) -> dict[str, Any]:
        """What was chosen, for printing and the run's summary."""
        o = self.optimizer
        return {"task": self.task.name, "task_reason": self.task_reason, "optimizer": type(o).__name__,
                "lr": self.recipe.optim.lr, "weight_decay": self.recipe.optim.weight_decay,
                "schedule": self.recipe.schedule, "steps": self.settings.total_steps,
                "batch_size": getattr(self.source, "batch_size", None), "precision": self.settings.precision,
                "accumulate": self.settings.accumulate, "device": str(self.device)}


def build_run(
    recipe: Recipe,
    model: nn.Module,
    data: RunData,
    *,
    device: torch.device,
    run_dir: Path | None = None,
    progress: bool = False,
    callbacks: Sequence[Callback] = (),
    seed: int | None = None,
    steps: int | None = None,
    lr: float | None = None,
    lr_scales: dict[str, float] | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    loss: Any = None,
    checkpoint: bool | None = None,
    label: str | None = None,
    extra_checkpoint: dict[str, Any] | None = None,
    metrics: Any = None,
) -> Run:
    """A `Run` of `model` on `data` with everything else from `recipe` (see the module docstring).

    seed: the run's seed (default the recipe's): batch order seed + 1, augmentation + 2, ...
    steps: optimizer steps (default: the recipe's train.steps or epochs).
    lr, lr_scales: base LR (default optim.lr) and per-layer-prefix scales (fine-tuning).
    optimizer, loss: objects of the user's that replace the recipe's.
    metrics: extra validation metrics beside the recipe's `train.metrics` (names, or {name: metric}).
    """
    seed = recipe.seed if seed is None else seed
    model = model.to(device)
    if recipe.train.sync_batchnorm:  # data-parallel runs: BatchNorm over the global batch (else unchanged)
        from trainwell.train.distributed import sync_batchnorm

        model = sync_batchnorm(model)
    source = parts.source_for(recipe, data.train, device, seed)
    total = steps if steps is not None else parts.total_steps_for(recipe, len(source))
    task, recipe_loss, why = parts.task_and_loss(recipe, data.y_train)
    if recipe.augment.mix is not None and task.name != "classification":
        raise UserError(f"augment.mix (Mixup/CutMix) mixes class labels; the task is {task.name} ({why})")
    if optimizer is None:
        if not any(p.requires_grad for p in model.parameters()):
            raise UserError("the model has no trainable parameter (every requires_grad is False)")
        optimizer = parts.optimizer_for(recipe, model, lr=lr, lr_scales=lr_scales)
        base_lr = recipe.optim.lr if lr is None else lr
    else:
        base_lr = optimizer.param_groups[0]["lr"]
        for group in optimizer.param_groups:
            group.setdefault("lr_scale", group["lr"] / base_lr if base_lr else 1.0)
    scheduler = parts.scheduler_for(recipe, optimizer, total, base_lr)
    name = label or recipe.name
    from trainwell.train.metrics import build_metrics

    extra = build_metrics(recipe.train.metrics, task.name, data.num_classes)
    extra.update(build_metrics(metrics, task.name, data.num_classes))
    return Run(
        recipe=recipe, model=model, data=data, source=source, optimizer=optimizer, scheduler=scheduler,
        settings=parts.settings_for(recipe, total, seed=seed, run_dir=run_dir, checkpoint=checkpoint,
                                    extra_checkpoint=extra_checkpoint),
        task=task, task_reason=why, loss=loss if loss is not None else recipe_loss,
        augment=parts.augment_for(recipe), mixer=parts.mixer_for(recipe), penalty=parts.penalty_for(recipe),
        callbacks=parts.callbacks_for(recipe, progress=progress, label=name, extra=list(callbacks)),
        device=device, label=name, metrics=extra,
    )


def model_for(recipe: Recipe, input_shape: Sequence[int], num_classes: int, seed: int | None = None,
              example_batch: torch.Tensor | None = None) -> nn.Module:
    """The recipe's model, initialized from `seed` (default the recipe's); LSUV uses `example_batch`."""
    from trainwell.models import build_model

    seed = recipe.seed if seed is None else seed
    return build_model(recipe.model, tuple(input_shape), num_classes, torch.Generator().manual_seed(seed), example_batch)


def prepare(recipe: Recipe) -> tuple[RunData, torch.device]:
    """The recipe's data on its device (preprocessing fitted on the training split)."""
    from trainwell.train.distributed import local_device

    device = local_device(pick_device(recipe.train.device))  # cuda:LOCAL_RANK in a data-parallel run
    if recipe.train.threads:
        torch.set_num_threads(recipe.train.threads)
    bundle, pipeline = prepare_data(recipe, device)
    return RunData.of_bundle(bundle, pipeline), device


def from_recipe(recipe: Recipe, *, data: RunData | None = None, model: nn.Module | None = None,
                device: torch.device | None = None, **kwargs: Any) -> Run:
    """A run of a recipe: its data (or `data`, e.g. shared by members) and model (or `model`)."""
    if data is None:
        data, device = prepare(recipe)
    device = device or pick_device(recipe.train.device)
    if model is None:
        x0 = data.train[0] if isinstance(data.train, tuple) else None
        model = model_for(recipe, data.input_shape, data.num_classes, kwargs.get("seed"),
                          example_batch=x0[:512].cpu() if x0 is not None else None)
    checkpoint_extra = {"config": recipe_to_dict(recipe)}
    if data.pipeline is not None:
        checkpoint_extra["preprocess"] = data.pipeline.state_dict()
    kwargs.setdefault("extra_checkpoint", checkpoint_extra)
    return build_run(recipe, model, data, device=device, **kwargs)


__all__ = ["Run", "RunData", "build_run", "from_recipe", "model_for", "prepare"]
