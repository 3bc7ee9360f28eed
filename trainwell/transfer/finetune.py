"""Fine-tuning a pretrained model on a new task: load it, new head, train the head, then unfreeze.

This is the training half of transfer learning; the model surgery (find and replace the head,
freeze, per-layer LR scales) is the part `trainwell.models.transfer`, and each phase is built by
`trainwell.assemble.phase` — the same translation of the recipe as `trainwell train`. The protocol
(lectures; Yosinski et al. 2014; Howard & Ruder 2018):

    phase 1  backbone frozen (requires_grad False), head re-initialized; train the head at lr
    phase 2  (optional) unfreeze the top `unfreeze` layers (or all) and train them at lr · lr_factor
             (default 1/10, so the pretrained features are not "forgotten"), or with
             discriminative rates lr · decay^depth per layer (`discriminative`)

BatchNorm: with ``freeze_bn=True`` every BatchNorm module is kept in eval mode during training
(its running mean/var are used and not updated) by `FreezeBatchNorm`, a Callback that puts them in
eval mode at `on_batch_start` — the Trainer sets the whole model to train mode at the start of
fit and after each evaluation, so it has to be done again before each batch; the model is not
patched. Recommended when the target batches are few and small (their statistics are noisy).

Loading (`load_pretrained`): a run directory (its final.pt, else best.pt/last.pt) or a checkpoint
file; its saved config rebuilds the architecture, the weights are loaded safely
(``weights_only``), and `check_compatible` lists every mismatching tensor if they do not fit.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainwell.config import Recipe, recipe_from_dict
from trainwell.errors import UserError
from trainwell.models.transfer import (
    batchnorm_modules,
    discriminative_lr_scales,
    find_head,
    freeze_all_but,
    layers,
    replace_head,
    top_layers,
    unfreeze,
)
from trainwell.train.callbacks import Callback
from trainwell.train.checkpoint import check_compatible, load_checkpoint
from trainwell.train.state import TrainState


class FreezeBatchNorm(Callback):
    """Keep BatchNorm modules in eval mode while training: running statistics used, not updated.

    `under`: only BatchNorms under these name prefixes (None: all of them).
    """

    order = -100  # before anything else looks at the batch

    def __init__(self, under: list[str] | None = None):
        self.under = under

    def _freeze(self, model: nn.Module) -> None:
        for m in batchnorm_modules(model, self.under):
            m.eval()

    def on_fit_start(self, state: TrainState) -> None:
        self._freeze(state.model)

    def on_batch_start(self, state: TrainState) -> None:
        self._freeze(state.model)


@dataclass
class Pretrained:
    """A loaded source model with the recipe it was trained with."""

    model: nn.Module
    recipe: Recipe
    num_classes: int
    input_shape: tuple[int, ...] | None
    preprocess: dict[str, Any] | None
    source: str


def _checkpoint_file(source: Path) -> Path:
    if source.is_dir():
        for name in ("final.pt", "best.pt", "last.pt"):
            if (source / name).exists():
                return source / name
        raise UserError(f"{source} is a directory without final.pt, best.pt or last.pt (not a finished trainwell run)")
    if not source.exists():
        raise UserError(f"--from {source}: no such run directory or checkpoint file")
    return source


def load_pretrained(source: str | Path, input_shape: tuple[int, ...] | None = None,
                    device: str | torch.device = "cpu") -> Pretrained:
    """Rebuild and load a trained model from a run directory or checkpoint (safe loading).

    The architecture comes from the checkpoint's "config" (the recipe's [model]); the number of
    classes from its "num_classes" or the head's weight; the input shape from "input_shape" or,
    for checkpoints that lack it (last.pt/best.pt), from `input_shape` (the target data's).
    """
    from trainwell.models import MODELS

    path = _checkpoint_file(Path(source))
    payload = load_checkpoint(path, device)
    if "config" not in payload:
        raise UserError(f"{path} has no saved config, so its architecture cannot be rebuilt")
    recipe = recipe_from_dict(payload["config"], f"{path} (config)")
    state = payload["model"]
    shape = payload.get("input_shape") or input_shape
    if shape is None:
        raise UserError(f"{path} does not record the input shape; pass input_shape= (the data's example shape)")
    if "num_classes" in payload:
        num_classes = int(payload["num_classes"])
    else:
        heads = [k for k in state if k.endswith("head.weight")]
        if not heads:
            raise UserError(f"{path}: cannot tell the number of classes (no num_classes, no head.weight)")
        num_classes = int(state[heads[-1]].shape[0])
    model = MODELS.build(recipe.model, input_shape=tuple(shape), num_classes=num_classes,
                         generator=torch.Generator().manual_seed(0))
    check_compatible(model, state, str(path))
    model.load_state_dict(state)
    return Pretrained(model.to(device), recipe, num_classes, tuple(shape), payload.get("preprocess"), str(path))


def load_into(model: nn.Module, source: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """Load a checkpoint's weights into an existing `model`; mismatching tensors are listed."""
    payload = load_checkpoint(_checkpoint_file(Path(source)), device)
    check_compatible(model, payload["model"], str(source))
    model.load_state_dict(payload["model"])
    return model


@dataclass
class FinetunePlan:
    """What to train in each phase.

    head_steps: phase-1 steps (only the new head trains).
    finetune_steps: phase-2 steps (0: no phase 2).
    unfreeze: phase 2 trains the top `unfreeze` layers (see `models.transfer.layers`); None = all.
    lr_factor: phase-2 base LR = lr · lr_factor (default 1/10).
    discriminative: if set, phase-2 per-layer LR scales decay^depth from the top (the head has 1).
    freeze_bn: keep BatchNorm modules in eval mode in both phases.
    """

    head_steps: int = 200
    finetune_steps: int = 0
    unfreeze: int | None = None
    lr_factor: float = 0.1
    discriminative: float | None = None
    freeze_bn: bool = True
    reinit_head: bool = True

    def __post_init__(self) -> None:
        if self.head_steps < 0 or self.finetune_steps < 0 or self.head_steps + self.finetune_steps == 0:
            raise UserError(f"fine-tuning needs head_steps + finetune_steps > 0, got {self.head_steps} and {self.finetune_steps}")
        if not 0.0 < self.lr_factor <= 10.0:
            raise UserError(f"lr_factor must be in (0, 10], got {self.lr_factor}")


@dataclass
class FinetuneResult:
    model: nn.Module
    phases: list[dict[str, Any]] = field(default_factory=list)


def prepare_head(model: nn.Module, num_classes: int, seed: int, reinit: bool = True) -> str:
    """Replace (re-initialize) the head for `num_classes`, then freeze all but it. Returns its name."""
    if reinit:
        name = replace_head(model, num_classes, generator=torch.Generator().manual_seed(seed))
    else:
        name, head = find_head(model)
        if head.out_features != num_classes:
            raise UserError(f"the head has {head.out_features} outputs but the task has {num_classes} classes; re-initialize it")
    freeze_all_but(model, [name])
    return name


def finetune(
    model: nn.Module,
    recipe: Recipe,
    data,
    plan: FinetunePlan,
    *,
    progress: bool = False,
    callbacks: list[Callback] = (),
    evaluate_on: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> FinetuneResult:
    """Run the plan on `data` (a DataBundle, preprocessed) with `recipe`'s optimizer/schedule/batch.

    The model is changed in place: new head (if `plan.reinit_head`), then phase 1 and phase 2.
    The recipe's [model] section is not used (the architecture is the pretrained one); its
    seed seeds the new head (seed + 7) and the training streams (seed + 100·phase). Every recipe key
    of `trainwell train` applies to each phase (EMA, augmentation, precision, ...).
    `evaluate_on`: (x, y) scored after each phase (``phases[i]["accuracy"]``), e.g. the test set.
    """
    from trainwell.assemble import RunData, phase

    head = prepare_head(model, data.num_classes, recipe.seed + 7, plan.reinit_head)
    out = FinetuneResult(model)
    extra: list[Callback] = list(callbacks)
    if plan.freeze_bn:
        extra.append(FreezeBatchNorm())
    phases = []
    if plan.head_steps:
        phases.append(("head", [head], plan.head_steps, 1.0, None))
    if plan.finetune_steps:
        names = layers(model) if plan.unfreeze is None else top_layers(model, plan.unfreeze)
        phases.append(("finetune", names, plan.finetune_steps, plan.lr_factor, plan.discriminative))
    run_data = RunData.of_bundle(data)
    device = data.x_train.device
    for i, (label, trainable, steps, factor, decay) in enumerate(phases):
        freeze_all_but(model, trainable)
        scales = discriminative_lr_scales(model, decay) if decay is not None else None
        lr = recipe.optim.lr * factor
        run = phase(model, recipe, run_data, trainable=trainable, steps=steps, lr=lr, seed=recipe.seed + 100 * i,
                    device=device, lr_scales=scales, callbacks=extra, progress=progress, label=f"{recipe.name}: {label}")
        state = run.fit()
        if state.diverged:
            raise UserError(f"fine-tuning phase {label!r} diverged: {state.stop_reason}")
        info = {"phase": label, "trainable": trainable, "steps": steps, "lr": lr, "lr_scales": scales}
        if evaluate_on is not None:
            from trainwell.train.evaluate import evaluate

            info["accuracy"] = evaluate(model, *evaluate_on)["accuracy"]
        out.phases.append(info)
    unfreeze(model)
    model.eval()
    return out


__all__ = ["FinetunePlan", "FinetuneResult", "FreezeBatchNorm", "Pretrained", "finetune", "load_into",
           "load_pretrained", "prepare_head"]
