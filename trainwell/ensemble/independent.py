"""Independent ensembles: K models of one recipe from K seeds, averaged (`Ensemble`).

Member k uses seed ``recipe.seed + 10·k`` (`member_seeds`): its initial weights, batch order
and dropout masks differ; the data split and preprocessing are the recipe's and SHARED by all
members (prepared once), so the members' probabilities on the same test inputs can be averaged.
(The stride 10 keeps the per-seed streams seed, seed+1, ..., seed+5 of different members apart.)

Two ways to train them:

* ``train_many`` (`trainwell.vectorized`): the K members as ONE batched model — one
  forward/backward per step for all of them. Used when the recipe has only parts it supports
  (no BatchNorm or other buffers, no data augmentation/mixing, no label smoothing, no L1/L2
  penalty, no gradient clipping, no EMA, optimizer adam/adamw/sgd/momentum with default options)
  and, on a CPU, when its fast batched engine compiles the model (Sequential of Linear/Conv/
  activations/pooling/dropout, trainwell's activation and dropout modules included).
* one by one through the `Trainer` (exactly `trainwell train`'s loop), otherwise; the reasons
  are returned (`EnsembleRun.fallback`) and printed by `trainwell ensemble`.

Difference to know: `train_many` applies weight decay to every parameter, while trainwell's
optimizer leaves biases and normalization parameters undecayed (a note is returned then).

Example:
    >>> run = train_independent(load_recipe("recipes/ensemble_mnist1d.toml"), members=5)
    >>> run.scores["ensemble"], run.scores["mean_member"], run.engine
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainwell.config import Recipe, recipe_to_dict
from trainwell.data import DataBundle
from trainwell.ensemble.ensemble import Ensemble, spec_for
from trainwell.errors import UserError
from trainwell.preprocess import Pipeline

ENGINES = ("auto", "train_many", "trainer")
_OPTIMIZERS = {"adam": ("adam", 0.0), "adamw": ("adamw", 0.0), "sgd": ("sgd", 0.0), "momentum": ("sgd", 0.9)}


def member_seeds(seed: int, members: int) -> list[int]:
    """Seeds of the members: seed, seed + 10, seed + 20, ..."""
    if not isinstance(members, int) or members < 1:
        raise UserError(f"an ensemble needs members >= 1, got {members!r}")
    return [seed + 10 * k for k in range(members)]


@dataclass
class EnsembleRun:
    """What an ensemble run produced: the ensemble, how it was trained, and its test scores."""

    method: str
    ensemble: Ensemble
    recipe: Recipe
    data: DataBundle
    pipeline: Pipeline
    seeds: list[int]
    engine: str
    train_seconds: float
    fallback: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    scores: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """Plain data for JSON and the report."""
        return {"method": self.method, "recipe": self.recipe.name, "seeds": self.seeds, "engine": self.engine,
                "members": len(self.ensemble), "train_seconds": self.train_seconds, "fallback": self.fallback,
                "notes": self.notes, "scores": self.scores, "data": self.data.describe(), **self.extra}


def train_many_blockers(recipe: Recipe, model: nn.Module | None = None, device: torch.device | None = None,
                        speed: bool = True) -> list[str]:
    """Why `train_many` cannot (or, on a CPU, should not) train this recipe (empty list: it can).

    On a CPU a model the batched engine cannot compile is also a reason: train_many would use its
    vmap engine, which there is slower than training the members one by one (bench_ensemble.py);
    `speed=False` leaves that reason out (train_many can still train such a model).
    """
    from trainwell.vectorized.batched_layers import compile_sequential
    from trainwell.vectorized.checks import refuse_buffers

    o, t, a = recipe.optim, recipe.train, recipe.augment
    out = []
    if model is not None:
        try:
            refuse_buffers(model)
        except UserError as exc:
            out.append(str(exc).split(";")[0])
        else:
            if speed and (device is None or device.type == "cpu") and compile_sequential(model) is None:
                out.append(f"{type(model).__name__} has layers the batched engine does not compile; train_many's vmap "
                           "engine is slower than one-by-one training on a CPU")
    if o.name not in _OPTIMIZERS:
        out.append(f"optimizer {o.name!r} (train_many has adam, adamw, sgd, momentum)")
    extra = sorted(set(o.options) - ({"momentum"} if _OPTIMIZERS.get(o.name, ("", 0))[0] == "sgd" else set()))
    if extra:
        out.append(f"optimizer options {extra} (train_many uses the defaults)")
    if a.train:
        out.append("data augmentation (augment.train)")
    if a.mix is not None:
        out.append("batch mixing (augment.mix)")
    if t.label_smoothing:
        out.append(f"label smoothing {t.label_smoothing}")
    if o.l1 or o.l2:
        out.append("an L1/L2 penalty in the loss (optim.l1/l2)")
    if o.grad_clip is not None:
        out.append("gradient clipping (optim.grad_clip)")
    if t.ema is not None:
        out.append("EMA of the weights (train.ema)")
    if t.swa is not None:
        out.append("SWA of the weights (train.swa)")
    return out


def _prepare_shared(recipe: Recipe):
    from trainwell.train.run import pick_device, prepare_data

    device = pick_device(recipe.train.device)
    if recipe.train.threads:
        torch.set_num_threads(recipe.train.threads)
    data, pipeline = prepare_data(recipe, device)
    return data, pipeline, device


def _trainer_members(recipe: Recipe, seeds: list[int], data, pipeline, device, out_dir: Path | None,
                     progress: bool) -> list[nn.Module]:
    """Train each member through `make_trainer` (the `trainwell train` loop); reuses finished members."""
    from trainwell.train.checkpoint import load_checkpoint, save_checkpoint
    from trainwell.train.run import Prepared, build_model, make_trainer

    models = []
    for k, seed in enumerate(seeds):
        rk = recipe.model_copy(update={"seed": seed})
        rk.name = f"{recipe.name}-member{k}"
        model = build_model(rk, data.input_shape, data.num_classes, seed).to(device)
        run_dir = out_dir / f"member-{k}" if out_dir is not None else None
        final = run_dir / "final.pt" if run_dir is not None else None
        if final is not None and final.exists():
            saved = load_checkpoint(final, device)
            if saved.get("config") == recipe_to_dict(rk):  # the same member was finished before: reuse it
                model.load_state_dict(saved["model"])
                models.append(model.eval())
                continue
        trainer = make_trainer(Prepared(rk, data, pipeline, model, device), run_dir if recipe.train.checkpoint else None,
                               progress)
        trainer.fit()
        if final is not None:
            save_checkpoint(final, {"format": "trainwell-model-1", "model": model.state_dict(),
                                    "config": recipe_to_dict(rk), "preprocess": pipeline.state_dict(),
                                    "input_shape": list(data.input_shape), "num_classes": data.num_classes})
        models.append(model.eval())
    return models


def _batched_members(recipe: Recipe, seeds: list[int], data, device, progress: bool) -> tuple[list[nn.Module], str]:
    from trainwell.vectorized import train_many
    from trainwell.models import MODELS
    from trainwell.optim import build_schedule
    from trainwell.train.run import total_steps_for

    o, t = recipe.optim, recipe.train
    kind, momentum = _OPTIMIZERS[o.name]
    momentum = float(o.options.get("momentum", momentum))
    batch = min(t.batch_size, len(data.x_train))
    steps = total_steps_for(recipe, len(data.x_train) // batch)
    schedule = build_schedule(recipe.schedule)
    schedule.check(steps)
    hparams = [{"seed": s, "lr": o.lr, "weight_decay": o.weight_decay, "momentum": momentum} for s in seeds]

    def make_model(generator: torch.Generator) -> nn.Module:
        return MODELS.build(recipe.model, input_shape=tuple(data.input_shape), num_classes=data.num_classes,
                            generator=generator)

    bar = _Bar(f"{recipe.name} ×{len(seeds)} (batched)", steps) if progress else None
    try:
        result = train_many(make_model, hparams, data.x_train, data.y_train, steps=steps, batch_size=batch,
                            optimizer=kind, schedule=schedule, x_val=data.x_val if len(data.x_val) else None,
                            y_val=data.y_val if len(data.y_val) else None,
                            eval_every=max(1, steps // 10), device=device,
                            progress=bar.update if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()
    return [m.to(device) for m in result.models()], result.engine


class _Bar:
    def __init__(self, description: str, total: int):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=Console(stderr=True))
        self.progress.start()
        self.task = self.progress.add_task(description, total=total, info="")

    def update(self, step: int, total: int, info: dict[str, Any]) -> None:
        acc = info.get("val_acc")
        text = f"val acc mean {sum(acc) / len(acc):.3f}" if acc else ""
        self.progress.update(self.task, completed=step, info=text)

    def close(self) -> None:
        self.progress.stop()


def train_independent(
    recipe: Recipe,
    members: int = 5,
    *,
    engine: str = "auto",
    out_dir: str | Path | None = None,
    progress: bool = False,
    tta: Any = None,
) -> EnsembleRun:
    """Train `members` models of `recipe` from different seeds and score them on the test set.

    engine: "auto" (train_many when the recipe allows it, else one by one), "train_many"
    (UserError listing what it does not support), "trainer" (always one by one).
    `tta`: a test-time augmentation spec applied to every member when scoring (None: the recipe's
    ``augment.tta``; "none": plain predictions). Scores: `trainwell.ensemble.metrics.ensemble_scores`.
    """
    if engine not in ENGINES:
        raise UserError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
    seeds = member_seeds(recipe.seed, members)
    data, pipeline, device = _prepare_shared(recipe)
    from trainwell.train.run import build_model

    probe = build_model(recipe, data.input_shape, data.num_classes, recipe.seed)
    blockers = train_many_blockers(recipe, probe, device, speed=engine == "auto") if engine != "trainer" else ["engine='trainer' was asked for"]
    if engine == "train_many" and blockers:
        raise UserError("train_many cannot train this recipe: " + "; ".join(blockers) + " (use engine='auto' or 'trainer')")
    notes = []
    start = time.perf_counter()
    if not blockers:
        if recipe.optim.weight_decay:
            notes.append("train_many decays every parameter (biases and norm parameters too); "
                         "the one-by-one Trainer path leaves those undecayed")
        models, how = _batched_members(recipe, seeds, data, device, progress)
        used = f"train_many ({how})"
    else:
        models = _trainer_members(recipe, seeds, data, pipeline, device, Path(out_dir) if out_dir else None, progress)
        used = "trainer (one by one)"
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    ens = Ensemble(models, spec_for(recipe.model, data.input_shape, data.num_classes),
                   config=recipe_to_dict(recipe), preprocess=pipeline.state_dict())
    run = EnsembleRun("independent", ens, recipe, data, pipeline, seeds, used, seconds,
                      fallback=blockers if engine != "trainer" else [], notes=notes)
    score(run, tta)
    return run


def score(run: EnsembleRun, tta: Any = None) -> EnsembleRun:
    """Fill `run.scores` with test scores (and `scores_tta` with test-time augmentation)."""
    from trainwell.ensemble.metrics import ensemble_scores, growth

    tta = run.recipe.augment.tta if tta is None else tta
    d = run.data
    probs = run.ensemble.member_proba(d.x_test)
    run.scores = ensemble_scores(probs, d.y_test)
    run.scores["growth"] = growth(probs, d.y_test)
    if tta is not None and tta != "none":
        run.scores["tta"] = ensemble_scores(run.ensemble.member_proba(d.x_test, tta=tta), d.y_test)
        run.scores["tta_spec"] = tta
    return run


__all__ = ["ENGINES", "EnsembleRun", "member_seeds", "score", "train_independent", "train_many_blockers"]
