"""Run a recipe end to end: data → preprocessing (fit on train) → model → Trainer → summary.

This is what `trainwell train` calls; it is also the Python entry point:

    >>> from trainwell.config import load_recipe
    >>> from trainwell.train.run import run_recipe
    >>> summary = run_recipe(load_recipe("recipes/default.toml"), out_dir="runs/demo")
    >>> summary["test_accuracy"]
"""
from __future__ import annotations

import json
import math
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainwell.config import Recipe, recipe_from_dict, recipe_to_dict
from trainwell.data import BatchLoader, DataBundle, load_data
from trainwell.errors import UserError
from trainwell.io import atomic_write_json
from trainwell import models
from trainwell.optim import LRScheduler, Penalty, build_optimizer, build_schedule
from trainwell.preprocess import Pipeline, build_pipeline
from trainwell.train.callbacks import Callback
from trainwell.train.checkpoint import save_checkpoint
from trainwell.train.evaluate import evaluate
from trainwell.train.progress import ProgressBar
from trainwell.train.trainer import Trainer, cross_entropy


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"train.device={name!r} but CUDA is not available here; use \"auto\" or \"cpu\"")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise UserError(f"train.device={name!r} is not a device ({exc})") from exc


@dataclass
class Prepared:
    """Everything built from a recipe before training."""

    recipe: Recipe
    data: DataBundle
    pipeline: Pipeline
    model: nn.Module
    device: torch.device


def load_recipe_data(recipe: Recipe) -> DataBundle:
    """The recipe's data BEFORE preprocessing: its splits (seeded) and `train_subset`."""
    d = recipe.data
    data = load_data(d.name, d.path, label_column=d.label_column, val_fraction=d.val_fraction,
                     test_fraction=d.test_fraction, seed=recipe.seed, layout=d.layout, shape=d.shape,
                     size=d.size, channels=d.channels, coarse_labels=d.coarse_labels)
    if d.train_subset is not None and d.train_subset < len(data.x_train):
        keep = torch.randperm(len(data.x_train), generator=torch.Generator().manual_seed(recipe.seed + 5))[: d.train_subset]
        data.x_train, data.y_train = data.x_train[keep], data.y_train[keep]
    return data


def prepare_data(recipe: Recipe, device: torch.device) -> tuple[DataBundle, Pipeline]:
    """Load the data, fit preprocessing on the training split only, apply it to all splits."""
    data = load_recipe_data(recipe)
    pipeline = build_pipeline(recipe.data.preprocess)
    pipeline.fit(data.x_train)
    data.x_train, data.x_val, data.x_test = (pipeline.transform(t) for t in (data.x_train, data.x_val, data.x_test))
    return data.to(device), pipeline


def build_model(recipe: Recipe, input_shape: tuple[int, ...], num_classes: int, seed: int,
                example_batch: torch.Tensor | None = None) -> nn.Module:
    """The recipe's model, initialized from `seed` (LSUV rescaling uses `example_batch`)."""
    return models.build_model(recipe.model, input_shape, num_classes, torch.Generator().manual_seed(seed), example_batch)


def prepare(recipe: Recipe) -> Prepared:
    device = pick_device(recipe.train.device)
    if recipe.train.threads:
        torch.set_num_threads(recipe.train.threads)
    data, pipeline = prepare_data(recipe, device)
    model = build_model(recipe, data.input_shape, data.num_classes, recipe.seed,
                        example_batch=data.x_train[:512].cpu()).to(device)
    return Prepared(recipe, data, pipeline, model, device)


def total_steps_for(recipe: Recipe, steps_per_epoch: int) -> int:
    t = recipe.train
    if t.steps is not None:
        return t.steps
    return max(1, math.ceil((t.epochs if t.epochs is not None else 10) * steps_per_epoch))


def make_trainer(p: Prepared, run_dir: Path | None, progress: bool, callbacks: list[Callback] = ()) -> Trainer:
    recipe, data = p.recipe, p.data
    t, o = recipe.train, recipe.optim
    loader = BatchLoader(data.x_train, data.y_train, min(t.batch_size, len(data.x_train)), shuffle=True,
                         drop_last=True, generator=torch.Generator().manual_seed(recipe.seed + 1))
    total = total_steps_for(recipe, len(loader))
    optimizer = build_optimizer(p.model, {"name": o.name, **o.options}, lr=o.lr, weight_decay=o.weight_decay)
    scheduler = LRScheduler(optimizer, build_schedule(recipe.schedule), o.lr, total)
    penalty = Penalty(l1=o.l1, l2=o.l2)
    augment = mixer = None
    if recipe.augment.train:
        from trainwell.augment import build_augmentation

        augment = build_augmentation(recipe.augment.train)
    if recipe.augment.mix is not None:
        from trainwell.augment import MIXERS

        mixer = MIXERS.build(recipe.augment.mix)
    cbs: list[Callback] = list(callbacks)
    if t.ema is not None:
        from trainwell.train.ema import EMACallback

        cbs.append(EMACallback(t.ema))
    if t.swa is not None:
        from trainwell.train.swa import SWACallback

        cbs.append(SWACallback(t.swa))
    if progress:
        cbs.append(ProgressBar(recipe.name))
    return Trainer(
        p.model, loader, optimizer, total,
        lr_scheduler=scheduler,
        loss_fn=cross_entropy(t.label_smoothing),
        val=(data.x_val, data.y_val),
        eval_every=t.eval_every,
        log_every=t.log_every,
        augment=augment,
        mixer=mixer,
        mix_prob=recipe.augment.mix_prob,
        num_classes=data.num_classes,
        penalty=penalty if penalty.active else None,
        grad_clip=o.grad_clip,
        callbacks=cbs,
        seed=recipe.seed,
        run_dir=run_dir,
        checkpoint=t.checkpoint and run_dir is not None,
        extra_checkpoint={"config": recipe_to_dict(recipe), "preprocess": p.pipeline.state_dict()},
    )


def test_metrics(recipe: Recipe, model: nn.Module, data: DataBundle) -> dict[str, float]:
    """Test accuracy of the final model, with test-time augmentation when the recipe asks."""
    result = evaluate(model, data.x_test, data.y_test)
    out = {"test_accuracy": result["accuracy"], "test_loss": result["loss"]}
    if recipe.augment.tta is not None:
        from trainwell.augment import build_tta

        probs = build_tta(recipe.augment.tta)(model, data.x_test)
        out["test_accuracy_plain"] = out["test_accuracy"]
        out["test_accuracy"] = (probs.argmax(1) == data.y_test).float().mean().item()
    return out


def new_run_dir(root: Path, name: str) -> Path:
    """runs/<name>, or runs/<name>-2, -3 ... so that no earlier run is overwritten."""
    path, k = root / name, 2
    while path.exists():
        path, k = root / f"{name}-{k}", k + 1
    return path


def run_recipe(
    recipe: Recipe,
    out_dir: str | Path | None = None,
    *,
    runs_root: str | Path = "runs",
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    callbacks: list[Callback] = (),
) -> dict[str, Any]:
    """Train a recipe and write the run directory; returns the summary (also in summary.json)."""
    if out_dir is None:
        run_dir = new_run_dir(Path(runs_root), recipe.name)
    else:
        run_dir = Path(out_dir)
        if not resume and run_dir.exists() and any(run_dir.iterdir()) and not overwrite:
            raise UserError(
                f"{run_dir} already holds files; continue that run with --resume {run_dir}, "
                "pick another --out, or pass --overwrite"
            )
    run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = None
    if resume:
        checkpoint = run_dir / "last.pt"
        if not checkpoint.exists():
            raise UserError(f"--resume {run_dir}: no checkpoint last.pt there (the run saved none yet)")
    elif overwrite:
        for stale in ("metrics.jsonl", "stats.jsonl", "summary.json", "last.pt", "best.pt", "final.pt"):
            (run_dir / stale).unlink(missing_ok=True)
    atomic_write_json(run_dir / "config.json", recipe_to_dict(recipe))

    p = prepare(recipe)
    trainer = make_trainer(p, run_dir, progress, list(callbacks))
    start = time.perf_counter()
    state = trainer.fit(resume=checkpoint)
    train_seconds = time.perf_counter() - start
    if p.device.type == "cuda":
        torch.cuda.synchronize()

    summary: dict[str, Any] = {
        "recipe": recipe.name,
        "seed": recipe.seed,
        "status": "diverged" if state.diverged else "done",
        "message": state.stop_reason,
        "steps": state.step,
        "epochs": state.step / trainer.steps_per_epoch,
        "train_seconds": train_seconds,
        "val_accuracy": state.metrics.get("val_accuracy", float("nan")),
        "best_val_accuracy": state.best_val_accuracy,
        "best_step": state.best_step,
        "train_loss": state.metrics.get("loss", float("nan")),
        "train_accuracy": state.metrics.get("accuracy", float("nan")),
        "parameters": sum(q.numel() for q in p.model.parameters()),
        "device": str(p.device),
        "threads": torch.get_num_threads(),
        "data": p.data.describe(),
        "run_dir": str(run_dir),
        "resumed": resume,
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    if summary["status"] == "done":
        summary.update(test_metrics(recipe, p.model, p.data))
        summary["train_eval_accuracy"] = evaluate(p.model, p.data.x_train, p.data.y_train)["accuracy"]
        for cb in trainer.callbacks:
            extra = getattr(cb, "summary", None)
            if callable(extra):
                summary.update(extra(p.data))
        save_checkpoint(run_dir / "final.pt", {
            "format": "trainwell-model-1",
            "model": p.model.state_dict(),
            "config": recipe_to_dict(recipe),
            "preprocess": p.pipeline.state_dict(),
            "input_shape": list(p.data.input_shape),
            "num_classes": p.data.num_classes,
        })
    else:
        summary["test_accuracy"] = float("nan")
    atomic_write_json(run_dir / "summary.json", summary)
    return summary


def recipe_of_run(run_dir: str | Path) -> Recipe:
    """The resolved recipe a run was started with (its config.json)."""
    path = Path(run_dir) / "config.json"
    if not path.exists():
        raise UserError(f"{run_dir} is not a trainwell run directory (no config.json)")
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is not valid JSON ({exc})") from exc
    return recipe_from_dict(raw, str(path))
