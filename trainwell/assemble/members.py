"""N members of a recipe (ensemble members, search trials): vectorized when possible and faster.

    result = train_members([recipe.model_copy(update={"seed": s}) for s in (0, 10, 20)], data, device)
    result.models, result.engine, result.reasons

Members are recipes that share data (prepared once). With ``engine="auto"`` they train as ONE
batched model (`trainwell.vectorized.train_many`) when `support.members_blockers` finds nothing
against it (what the engine cannot do) AND `trainwell.vectorized.choose_engine` says it is faster
on this device (its measured rule on a CPU: nets without convolutions vectorize, ConvNets from
K = 16 members; on CUDA all vectorize) — the same init, batch order, schedule and evaluation steps as the Trainer —
and otherwise one by one through `build_run` (exactly the `trainwell train` loop), with the reasons
returned. ``engine="vectorized"`` refuses (UserError with the reasons) instead of falling back,
and vectorizes even where the rule expects no gain; ``engine="one_by_one"`` never vectorizes.
`MembersResult.decision` says in one sentence which path ran and why (printed by the commands).

A member with a run directory whose `final.pt` holds the same recipe is loaded, not retrained
(a killed ensemble continues where it stopped).
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainwell.assemble import parts
from trainwell.assemble.run import RunData, from_recipe, model_for
from trainwell.assemble.support import VECTOR_OPTIMIZERS, members_blockers
from trainwell.config import Recipe, recipe_to_dict
from trainwell.errors import UserError
from trainwell.train.callbacks import Callback
from trainwell.vectorized.choose import choose_engine

ENGINES = ("auto", "vectorized", "one_by_one")


@dataclass
class MemberResult:
    """How one member ended: final and best validation accuracy, last training loss, steps, time."""

    value: float
    best_val_accuracy: float
    train_loss: float
    steps: int
    seconds: float
    diverged: bool = False
    message: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    val_loss: float = float("nan")


@dataclass
class MembersResult:
    models: list[nn.Module]
    results: list[MemberResult]
    engine: str
    reasons: list[str] = field(default_factory=list)
    seconds: float = 0.0
    decision: str = ""  # which path ran and why, one sentence (the `choose_engine` reason or the blockers)


def train_members(recipes: Sequence[Recipe], data: RunData, device: torch.device, *, engine: str = "auto",
                  progress: bool = False, run_dirs: Sequence[Path | None] | None = None,
                  callbacks: Callable[[int], list[Callback]] | None = None, label: str | None = None,
                  heartbeat: Callable[[], None] | None = None) -> MembersResult:
    """Train every recipe of `recipes` on the shared `data` (see the module docstring).

    `heartbeat()` is called at every evaluation (a sign of life for a search's study)."""
    if engine not in ENGINES:
        raise UserError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
    recipes = list(recipes)
    if not recipes:
        raise UserError("no members to train")
    run_dirs = list(run_dirs) if run_dirs is not None else [None] * len(recipes)
    reasons: list[str] = []
    why = ""
    if engine == "one_by_one":
        reasons = ["one-by-one training was asked for"]
    else:
        probe = model_for(recipes[0], data.input_shape, data.num_classes or 1)
        reasons = members_blockers(recipes, probe, device)
        if not isinstance(data.train, tuple):
            reasons.append("the training data is not (x, y) tensors")
        if callbacks is not None:
            reasons.append("per-member callbacks (the vectorized engine runs none)")
        if engine == "vectorized" and reasons:
            raise UserError("these members cannot train as one vectorized model: " + "; ".join(reasons))
        if not reasons:  # it can vectorize; is it faster here? (`choose_engine`'s measured rule)
            batch = min(recipes[0].train.batch_size, len(data.train[0]))
            choice = choose_engine(probe, len(recipes), device, batch)
            why = choice.reason if engine == "auto" else f"asked for ({choice.reason})"
            if engine == "auto" and not choice.vectorize:
                reasons.append(choice.reason)
    start = time.perf_counter()
    if reasons:
        models, results = _one_by_one(recipes, data, device, progress, run_dirs, callbacks, label, heartbeat)
        used = "one by one (Trainer)"
    else:
        models, results, how = _vectorized(recipes, data, device, progress, label, heartbeat)
        used = f"vectorized ({how})"
    if device.type == "cuda":
        torch.cuda.synchronize()
    decision = f"{len(recipes)} member(s) trained {used}: {why or '; '.join(reasons)}"
    return MembersResult(models, results, used, reasons if engine != "one_by_one" else [], time.perf_counter() - start,
                         decision)


def _one_by_one(recipes: list[Recipe], data: RunData, device: torch.device, progress: bool,
                run_dirs: list[Path | None], callbacks: Callable[[int], list[Callback]] | None,
                label: str | None, heartbeat: Callable[[], None] | None) -> tuple[list[nn.Module], list[MemberResult]]:
    from trainwell.train.checkpoint import load_checkpoint, save_checkpoint

    models, results = [], []
    for k, (recipe, run_dir) in enumerate(zip(recipes, run_dirs)):
        final = run_dir / "final.pt" if run_dir is not None else None
        if final is not None and final.exists():
            saved = load_checkpoint(final, device)
            if saved.get("config") == recipe_to_dict(recipe):  # finished before: reuse it
                model = model_for(recipe, data.input_shape, data.num_classes).to(device)
                model.load_state_dict(saved["model"])
                models.append(model.eval())
                results.append(MemberResult(**saved.get("result", {"value": float("nan"), "best_val_accuracy": float("nan"),
                                                                    "train_loss": float("nan"), "steps": 0, "seconds": 0.0})))
                continue
        extra = list(callbacks(k)) if callbacks is not None else []
        if heartbeat is not None:
            extra.append(_Heartbeat(heartbeat))
        run = from_recipe(recipe, data=data, device=device, run_dir=run_dir if recipe.train.checkpoint else None,
                          progress=progress, label=f"{label or recipe.name} #{k}", callbacks=extra)
        t0 = time.perf_counter()
        state = run.fit(resume=_resumable(run_dir, recipe, device))
        seconds = time.perf_counter() - t0
        result = MemberResult(value=state.metrics.get("val_accuracy", float("nan")),
                              best_val_accuracy=state.best_val_accuracy, train_loss=state.metrics.get("loss", float("nan")),
                              steps=state.step, seconds=seconds, diverged=state.diverged, message=state.stop_reason,
                              metrics={k2: v for k2, v in state.metrics.items() if isinstance(v, float)},
                              val_loss=state.metrics.get("val_loss", float("nan")))
        if final is not None:
            save_checkpoint(final, {"format": "trainwell-model-1", "model": run.model.state_dict(),
                                    "config": recipe_to_dict(recipe), "result": result.__dict__ | {"metrics": {}},
                                    "input_shape": list(data.input_shape), "num_classes": data.num_classes})
        models.append(run.model.eval())
        results.append(result)
    return models, results


def _resumable(run_dir: Path | None, recipe: Recipe, device: torch.device) -> dict[str, Any] | None:
    """The member's checkpoint when a killed run of the same recipe left one (`trainwell ensemble
    --resume`); a checkpoint of another recipe is ignored (the member trains from the start)."""
    from trainwell.train.checkpoint import load_checkpoint

    last = run_dir / "last.pt" if run_dir is not None else None
    if last is None or not last.exists():
        return None
    saved = load_checkpoint(last, device)
    return saved if saved.get("config") == recipe_to_dict(recipe) else None


def _vectorized(recipes: list[Recipe], data: RunData, device: torch.device, progress: bool,
                label: str | None, heartbeat: Callable[[], None] | None) -> tuple[list[nn.Module], list[MemberResult], str]:
    from trainwell.optim import build_schedule
    from trainwell.train.settings import default_eval_every
    from trainwell.vectorized import train_many

    base = recipes[0]
    o, t = base.optim, base.train
    kind, default_momentum = VECTOR_OPTIMIZERS[o.name]
    x_train, y_train = data.train
    batch = min(t.batch_size, len(x_train))
    spe = len(x_train) // batch
    steps = parts.total_steps_for(base, spe)
    eval_every = t.eval_every or default_eval_every(spe, steps)
    schedule = build_schedule(base.schedule)
    schedule.check(steps)
    rates = [r.model.get("dropout") for r in recipes]
    rates = [float(p) if isinstance(p, (int, float)) and not isinstance(p, bool) else None for p in rates]
    template = base.model
    any_dropout = any(p is not None for p in rates)
    if any_dropout:
        # the shared architecture needs its dropout layers whenever ANY member drops units; members
        # without dropout get rate 0 there (not: every member silently trains without dropout)
        template = {**base.model, "dropout": max(p for p in rates if p is not None) or 0.5}
    hparams = []
    for r, rate in zip(recipes, rates):
        h: dict[str, Any] = {"seed": r.seed, "lr": r.optim.lr, "weight_decay": r.optim.weight_decay}
        if kind == "sgd":
            h["momentum"] = float(r.optim.options.get("momentum", default_momentum))
        if any_dropout:
            h["dropout"] = rate if rate is not None else 0.0
        hparams.append(h)
    example = x_train[:512].cpu()

    def make_model(generator: torch.Generator) -> nn.Module:
        from trainwell.models import build_model

        return build_model(template, tuple(data.input_shape), data.num_classes, generator, example)

    x_val, y_val = data.val if data.val is not None else (None, None)
    bar = _Bar(f"{label or base.name} ×{len(recipes)} (vectorized)", steps) if progress else None

    def on_progress(step: int, total: int, info: dict[str, Any]) -> None:
        if bar is not None:
            bar.update(step, total, info)
        if heartbeat is not None:
            heartbeat()

    t0 = time.perf_counter()
    try:
        result = train_many(make_model, hparams, x_train, y_train, steps=steps, batch_size=batch, optimizer=kind,
                            schedule=schedule, x_val=x_val, y_val=y_val, eval_every=eval_every, device=device,
                            progress=on_progress if (bar is not None or heartbeat is not None) else None)
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - t0
    finite = torch.isfinite(result.train_loss).all(dim=1).tolist()
    last_loss = result.train_loss[:, -1].tolist()
    has_val = result.val_acc is not None
    final = result.final_val_acc.tolist() if has_val else [float("nan")] * len(recipes)
    best = result.val_acc.max(dim=1).values.tolist() if has_val else [float("nan")] * len(recipes)
    val_loss = [float("nan")] * len(recipes)
    if has_val:  # the final models' validation cross-entropy (what the Trainer reports as val_loss)
        logp = torch.log_softmax(result.logits(x_val).float(), dim=-1)  # K×N×C
        nll = -logp.gather(2, y_val.view(1, -1, 1).expand(len(recipes), -1, 1)).mean(dim=(1, 2))
        val_loss = nll.tolist()
    results = []
    for k, r in enumerate(recipes):
        ok = finite[k] and math.isfinite(last_loss[k])
        results.append(MemberResult(value=final[k], best_val_accuracy=best[k], train_loss=last_loss[k], steps=steps,
                                    seconds=seconds / len(recipes), diverged=not ok, val_loss=val_loss[k],
                                    message="" if ok else f"the training loss became non-finite (lr={r.optim.lr:.3g}); "
                                                          "the learning rate is likely too high"))
    return [m.to(device) for m in result.models()], results, result.engine


class _Heartbeat(Callback):
    def __init__(self, beat: Callable[[], None]):
        self.beat = beat

    def on_log(self, state, record) -> None:
        self.beat()


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


__all__ = ["ENGINES", "MemberResult", "MembersResult", "train_members"]
