"""Recipe → the parts of a run, one small pure translation each (written once, used by every command).

| recipe keys                                        | part                     | function          |
|----------------------------------------------------|--------------------------|-------------------|
| train.task, train.loss, train.class_weights,       | Task, loss               | `task_and_loss`   |
| train.label_smoothing                              |                          |                   |
| optim.name/options/lr/weight_decay                 | optimizer (decay rule of `optim.param_groups`) | `optimizer_for` |
| schedule.*                                         | LRScheduler              | `scheduler_for`   |
| augment.train, augment.mix                         | augmentation, mixer      | `augment_for`, `mixer_for` |
| optim.l1, optim.l2                                 | penalty                  | `penalty_for`     |
| train.ema, train.swa; log.*                        | averaging callbacks, loggers | `callbacks_for` |
| train.steps/epochs, eval/log cadence, seed, precision, accumulate, compile, clip | TrainerSettings | `settings_for` |
| train.batch_size, train.shuffle                    | batch source (sharded in data-parallel runs) | `source_for` |
| train.sync_batchnorm                               | SyncBatchNorm (data-parallel runs) | `trainwell.train.distributed.sync_batchnorm` |
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainwell.config import Recipe
from trainwell.errors import UserError
from trainwell.nn.losses import LOSSES, TASK_OF_LOSS
from trainwell.optim import LRScheduler, Penalty, build_optimizer, build_schedule
from trainwell.registry import split_spec
from trainwell.train.callbacks import Callback
from trainwell.train.settings import TrainerSettings
from trainwell.train.tasks import Classification, Task, build_task, infer_task


def total_steps_for(recipe: Recipe, steps_per_epoch: int) -> int:
    """train.steps, or ⌈train.epochs · optimizer steps per epoch⌉ (10 epochs when neither is given)."""
    t = recipe.train
    if t.steps is not None:
        return t.steps
    per_epoch = max(steps_per_epoch // t.accumulate, 1)
    return max(1, math.ceil((t.epochs if t.epochs is not None else 10) * per_epoch))


def task_and_loss(recipe: Recipe, y_train: torch.Tensor | None) -> tuple[Task, Any, str]:
    """(task, loss, why): the recipe's task and loss, or the task inferred from the targets."""
    t = recipe.train
    loss_name = split_spec(t.loss)[0] if t.loss is not None else None
    if t.task is not None:
        task_name, why = t.task, f"train.task = {t.task!r}"
    elif loss_name is not None:
        task_name, why = TASK_OF_LOSS[loss_name] if loss_name in TASK_OF_LOSS else "classification", f"train.loss = {loss_name!r}"
    elif y_train is not None:
        inferred, why = infer_task(y_train)
        task_name = inferred.name
    else:
        task_name, why = "classification", "the default task"
    task = build_task(task_name, **({"label_smoothing": t.label_smoothing} if task_name == "classification" else {}))
    if t.label_smoothing and task_name != "classification":
        raise UserError(f"train.label_smoothing applies to classification, but the task is {task_name} ({why})")
    if t.class_weights is not None and task_name != "classification":
        raise UserError(f"train.class_weights applies to classification, but the task is {task_name} ({why})")
    if loss_name is None:
        loss_name = {"classification": "cross_entropy", "multilabel": "bce_with_logits", "regression": "mse"}[task_name]
    _, options = split_spec(t.loss) if t.loss is not None else (loss_name, {})
    if loss_name == "cross_entropy":
        if t.label_smoothing and "label_smoothing" not in options:
            options["label_smoothing"] = t.label_smoothing
        if t.class_weights is not None and "weight" not in options:
            options["weight"] = class_weights(t.class_weights, y_train, task)
    if loss_name in TASK_OF_LOSS and TASK_OF_LOSS[loss_name] != task_name:
        raise UserError(f"train.loss = {loss_name!r} is a {TASK_OF_LOSS[loss_name]} loss, but the task is {task_name} ({why})")
    loss = LOSSES.build({"name": loss_name, **options})
    return task, loss, why


def class_weights(spec: Any, y_train: torch.Tensor | None, task: Task) -> list[float]:
    """A weight per class: the list given, or "balanced" = n / (C · n_c) from the training labels."""
    if spec != "balanced":
        return [float(w) for w in spec]
    if y_train is None:
        raise UserError("train.class_weights = \"balanced\" needs the training labels")
    counts = torch.bincount(y_train.reshape(-1).long().cpu()).double()
    if bool((counts == 0).any()):
        missing = [i for i, c in enumerate(counts.tolist()) if c == 0]
        raise UserError(f"train.class_weights = \"balanced\": class(es) {missing} have no training example")
    return (counts.sum() / (len(counts) * counts)).tolist()


def optimizer_for(recipe: Recipe, model: nn.Module, *, lr: float | None = None,
                  lr_scales: dict[str, float] | None = None) -> torch.optim.Optimizer:
    """The recipe's optimizer over the model's TRAINABLE parameters (no decay on biases and norms)."""
    o = recipe.optim
    return build_optimizer(model, {"name": o.name, **o.options}, lr=o.lr if lr is None else lr,
                           weight_decay=o.weight_decay, lr_scales=lr_scales)


def optimizer_factory_for(recipe: Recipe, model: nn.Module):
    """params → the recipe's optimizer (name, options, decay groups) over a COPY of `model` whose
    parameters come in `model.named_parameters()` order (as `copy.deepcopy` keeps them); for loops
    that run on a copy (the LR finder)."""
    names = [n for n, _ in model.named_parameters()]
    o = recipe.optim

    def factory(params) -> torch.optim.Optimizer:
        return build_optimizer(model, {"name": o.name, **o.options}, lr=o.lr, weight_decay=o.weight_decay,
                               substitute=dict(zip(names, list(params))))

    return factory


def scheduler_for(recipe: Recipe, optimizer: torch.optim.Optimizer, total_steps: int,
                  base_lr: float | None = None) -> LRScheduler:
    return LRScheduler(optimizer, build_schedule(recipe.schedule), recipe.optim.lr if base_lr is None else base_lr,
                       total_steps)


def augment_for(recipe: Recipe):
    if not recipe.augment.train:
        return None
    from trainwell.augment import build_augmentation

    return build_augmentation(recipe.augment.train)


def mixer_for(recipe: Recipe):
    if recipe.augment.mix is None:
        return None
    from trainwell.augment import build_mixer

    return build_mixer(recipe.augment.mix)


def penalty_for(recipe: Recipe) -> Penalty | None:
    penalty = Penalty(l1=recipe.optim.l1, l2=recipe.optim.l2)
    return penalty if penalty.active else None


def callbacks_for(recipe: Recipe, *, progress: bool, label: str, extra: list[Callback] = ()) -> list[Callback]:
    """The recipe's callbacks (EMA, SWA, loggers of ``[log]``, progress bar) after the caller's own."""
    from trainwell.train.ema import EMACallback
    from trainwell.train.progress import ProgressBar
    from trainwell.train.swa import SWACallback

    t = recipe.train
    cbs: list[Callback] = list(extra)
    if t.ema is not None:
        cbs.append(EMACallback(t.ema))
    if t.swa is not None:
        cbs.append(SWACallback(t.swa))
    from trainwell.train import distributed

    procs = distributed.current()
    if recipe.log.active and (procs is None or procs.is_main):  # data-parallel: rank 0 logs, as it writes every file
        from trainwell.config import recipe_to_dict
        from trainwell.train.loggers import loggers_for

        cbs += loggers_for(recipe.log, params=recipe_to_dict(recipe), experiment=recipe.name)
    if progress:
        cbs.append(ProgressBar(label))
    return cbs


def settings_for(recipe: Recipe, total_steps: int, *, seed: int | None = None, run_dir: Path | None = None,
                 checkpoint: bool | None = None, extra_checkpoint: dict[str, Any] | None = None) -> TrainerSettings:
    t = recipe.train
    return TrainerSettings(
        total_steps=total_steps,
        eval_every=t.eval_every,
        log_every=min(t.log_every, total_steps),
        seed=recipe.seed if seed is None else seed,
        grad_clip=recipe.clip_grad_norm,
        accumulate=t.accumulate,
        precision=t.precision,
        compile=t.compile,
        mix_prob=recipe.augment.mix_prob,
        log_grad_norm=t.log_grad_norm,
        run_dir=run_dir,
        checkpoint=(t.checkpoint if checkpoint is None else checkpoint) and run_dir is not None,
        checkpoint_seconds=t.checkpoint_seconds,
        extra_checkpoint=extra_checkpoint or {},
    )


def source_for(recipe: Recipe, train: Any, device: torch.device, seed: int, keys=(None, None)):
    """The batch source of the training data: batch_size, shuffle, whole batches only."""
    from trainwell.data.adapt import as_source

    from trainwell.train.distributed import shard

    t = recipe.train
    if t.sampler == "balanced":
        from trainwell.data.adapt import xy_tensors
        from trainwell.data.balanced import BalancedLoader

        pair = xy_tensors(train, "train")
        if pair is None:
            raise UserError("train.sampler = \"balanced\" needs the training data as (x, y) tensors "
                            "(for a Dataset or DataLoader, give your DataLoader a WeightedRandomSampler)")
        x, y = pair
        return BalancedLoader(x.to(device), y.to(device), t.batch_size, generator=torch.Generator().manual_seed(seed + 1))
    return as_source(train, batch_size=t.batch_size, device=device, seed=seed + 1, shuffle=t.shuffle,
                     drop_last=True, keys=keys, shard=shard())  # shard: data-parallel runs (None otherwise)


def default_task() -> Task:
    return Classification()


__all__ = ["augment_for", "callbacks_for", "class_weights", "mixer_for", "optimizer_for", "penalty_for",
           "optimizer_factory_for", "scheduler_for", "settings_for", "source_for", "task_and_loss", "total_steps_for"]
