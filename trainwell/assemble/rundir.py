"""Train a recipe into a run directory: what `trainwell train` does, and nothing is lost on the way.

    summary = train_recipe(load_recipe("default"), "runs/demo")

The run directory holds `config.json` (the resolved recipe), `metrics.jsonl`, the resumable
checkpoint `last.pt`, weights-only files `best.pt` (best on validation), `final.pt` and, when the
recipe averages weights, `ema.pt` / `swa.pt`, and `summary.json` (which weights gave the test
figure: `train.test_weights`, default "best").

Order of work, so that a mistake never costs an earlier run: the folder is locked (`RunLock`:
a second process writing it gets an error), the new recipe's data and model are built and
validated, and only then are the old run's files replaced (`overwrite=True`) and `config.json`
written. Every file is written atomically. `resume=True` continues from `last.pt` to the result an
uninterrupted run would have reached (a finished run resumed is re-evaluated, not retrained).

Data-parallel (launched by torchrun or `trainwell train --nproc N`; `trainwell.train.distributed`):
every process builds the data and the model and trains its share, but rank 0 alone picks, locks
and writes the run directory and reads the checkpoint, which it sends to the others — so the
other processes need no access to the folder (other machines). The process group is left right
after training; the test figures, weights files and summary are rank 0's work alone. The other
processes return their summary without writing it.
"""
from __future__ import annotations

import contextlib
import math
import platform
import re
import time
from pathlib import Path
from typing import Any

import torch

from trainwell.assemble.run import Run, from_recipe, prepare
from trainwell.config import Recipe, recipe_from_dict, recipe_to_dict
from trainwell.errors import UserError
from trainwell.io import RunLock, atomic_torch_save, atomic_write_json, check_writable, remove_stale_tmp
from trainwell.train.best import BestWeights, weights_payload
from trainwell.train.callbacks import Callback
from trainwell.train import distributed
from trainwell.train.checkpoint import load_checkpoint
from trainwell.train.evaluate import evaluate

RUN_FILES = ("metrics.jsonl", "stats.jsonl", "summary.json", "last.pt", "best.pt", "final.pt", "ema.pt", "swa.pt",
             "config.json", "report.html", "metrics.csv", "tensorboard", "mlruns")


def safe_name(name: str) -> str:
    """A recipe name as ONE path component: letters, digits, '.', '_' and '-' only, no leading dot."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return cleaned or "run"


def new_run_dir(root: Path, name: str) -> Path:
    """root/<name>, or root/<name>-2, -3 ... so that no earlier run is overwritten."""
    name = safe_name(name)
    path, k = root / name, 2
    while path.exists():
        path, k = root / f"{name}-{k}", k + 1
    return path


def weights_meta(run: Run, user_model: bool = False) -> dict[str, Any]:
    """What a weights file carries besides the weights: enough to rebuild and use the model.

    `user_model`: the model is the user's own class (`trainwell.fit`), which trainwell cannot
    rebuild: the file names the class (``model_class``) instead, and its config holds only the
    training keys that were used."""
    data = run.data
    meta: dict[str, Any] = {"config": recipe_to_dict(run.recipe), "task": run.task.name,
                            "input_shape": list(data.input_shape) if data.input_shape else None,
                            "num_classes": data.num_classes}
    if user_model:
        from trainwell.assemble.user import model_class_name

        meta["model_class"] = model_class_name(run.model)
    if data.pipeline is not None:
        meta["preprocess"] = data.pipeline.state_dict()
    names = getattr(data.bundle, "class_names", None) if data.bundle is not None else None
    if names:
        meta["class_names"] = list(names)
    return meta


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    return value


def test_metrics(run: Run, model: torch.nn.Module, prefix: str = "test") -> dict[str, Any]:
    """The task's metrics of `model` on the test split (with test-time augmentation when the recipe asks)."""
    test = run.data.test
    if test is None:
        return {}
    x, y = test if isinstance(test, tuple) else (test, None)
    result = evaluate(model, x, y, task=run.task) if y is not None else evaluate(model, x, task=run.task)
    out = {f"{prefix}_{k}": v for k, v in result.items()}
    tta = run.recipe.augment.tta
    if tta is not None and y is not None and run.task.name == "classification":
        from trainwell.augment import build_tta

        probs = build_tta(tta)(model, x)
        out[f"{prefix}_accuracy_plain"] = out.get(f"{prefix}_accuracy")
        out[f"{prefix}_accuracy"] = (probs.argmax(1) == y).float().mean().item()
    return out


def train_recipe(recipe: Recipe, out_dir: str | Path | None = None, *, runs_root: str | Path = "runs",
                 resume: bool = False, overwrite: bool = False, progress: bool = True,
                 callbacks: list[Callback] = ()) -> dict[str, Any]:
    """Train `recipe` and write its run directory (see the module docstring); returns the summary."""
    made = Path(out_dir) if out_dir is not None and not Path(out_dir).exists() else None
    try:
        return _train(recipe, out_dir, runs_root, resume, overwrite, progress, callbacks)
    except BaseException:
        if made is not None:
            _remove_if_unused(made)  # a refused run leaves no empty folder behind
        raise


def _train(recipe: Recipe, out_dir, runs_root, resume: bool, overwrite: bool, progress: bool,
           callbacks) -> dict[str, Any]:
    with contextlib.ExitStack() as held:  # the run directory's lock (rank 0), released last
        with distributed.joined(recipe.train.device) as procs:  # None: one process, the plain path
            main = procs is None or procs.is_main
            run_dir, checkpoint = distributed.from_main(
                procs, lambda: _claim_run_dir(recipe.name, out_dir, runs_root, resume, overwrite, held))
            data, device = prepare(recipe)                      # validates the data ...
            best = BestWeights() if main else None
            run = from_recipe(recipe, data=data, device=device, run_dir=run_dir, progress=progress and main,
                              callbacks=[*callbacks, *([best] if best else [])])  # ... and the model, optimizer, schedule
            if main:
                best.path, best.meta = run_dir / "best.pt", weights_meta(run)
                if overwrite and not resume:                    # only now may the old run go
                    _remove_run_files(run_dir)
                atomic_write_json(run_dir / "config.json", recipe_to_dict(recipe))
            start = time.perf_counter()
            state = run.fit(resume=checkpoint)
            train_seconds = time.perf_counter() - start
            if device.type == "cuda":
                torch.cuda.synchronize()
            summary = _summary(run, state, train_seconds, resume, run_dir)
            if procs is not None:
                summary["processes"], summary["rank"] = procs.world_size, procs.rank
        if not main:                                            # data-parallel: rank 0 writes everything
            return summary
        if summary["status"] == "done":
            summary.update(_finish(run, state, best, run_dir))
        summary = _finite_or_none(summary)  # JSON has no NaN: an absent figure is null
        atomic_write_json(run_dir / "summary.json", summary)
    return summary


def _claim_run_dir(name: str, out_dir: str | Path | None, runs_root: str | Path, resume: bool, overwrite: bool,
                   held: contextlib.ExitStack) -> tuple[Path, dict[str, Any] | None]:
    """(run directory, checkpoint to resume from): the folder picked, checked and locked (the lock
    held by `held`), stale temporary files removed, the checkpoint read."""
    if out_dir is None:
        check_writable(runs_root, "runs folder")
        run_dir = new_run_dir(Path(runs_root), name)
    else:
        run_dir = Path(out_dir)
        if run_dir.exists() and not run_dir.is_dir():
            raise UserError(f"--out {run_dir} is a file, not a folder")
        check_writable(run_dir.parent if not run_dir.exists() else run_dir, "output folder")
        if not resume and run_dir.exists() and _has_run_files(run_dir) and not overwrite:
            raise UserError(f"{run_dir} already holds a run; continue it with --resume {run_dir}, "
                            "pick another --out, or pass --overwrite")
    held.enter_context(RunLock(run_dir))
    remove_stale_tmp(run_dir)
    checkpoint = None
    if resume:
        path = run_dir / "last.pt"
        if not path.exists():
            raise UserError(f"--resume {run_dir}: no checkpoint last.pt there (the run saved none yet)")
        checkpoint = load_checkpoint(path)
    return run_dir, checkpoint


def _remove_run_files(run_dir: Path) -> None:
    import shutil

    for stale in RUN_FILES:
        path = run_dir / stale
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def _remove_if_unused(run_dir: Path) -> None:
    """Remove `run_dir` (made by this process) if it holds nothing but the lock and temp files."""
    try:
        if all(p.name == ".lock" or p.name.endswith(".tmp") for p in run_dir.iterdir()):
            for p in run_dir.iterdir():
                p.unlink()
            run_dir.rmdir()
    except OSError:
        pass


def _has_run_files(folder: Path) -> bool:
    return any((folder / name).exists() for name in RUN_FILES)


def _summary(run: Run, state, seconds: float, resumed: bool, run_dir: Path) -> dict[str, Any]:
    m = state.metrics
    out: dict[str, Any] = {
        "recipe": run.recipe.name, "seed": run.recipe.seed, "status": "diverged" if state.diverged else "done",
        "message": state.stop_reason, "task": run.task.name, "task_reason": run.task_reason, "steps": state.step,
        "epochs": state.step / run.trainer.steps_per_epoch, "train_seconds": seconds,
        "precision": run.trainer.precision,
        "monitor": state.monitor, "best_value": state.best_value, "best_step": state.best_step,
        "parameters": sum(q.numel() for q in run.model.parameters()), "device": str(run.device),
        "threads": torch.get_num_threads(), "data": run.data.description, "run_dir": str(run_dir), "resumed": resumed,
        "python": platform.python_version(), "torch": torch.__version__,
        "train_loss": m.get("loss", float("nan")), "val_loss": m.get("val_loss", float("nan")),
    }
    for name in run.task.metrics([0.0] * len(run.task.sum_names), 1):
        out[f"train_{name}"] = m.get(name, float("nan"))
        out[f"val_{name}"] = m.get(f"val_{name}", float("nan"))
    if run.task.name == "classification":
        out["best_val_accuracy"] = state.best_val_accuracy
    return out


def _finish(run: Run, state, best: BestWeights, run_dir: Path) -> dict[str, Any]:
    """Weights files, the test figure on the chosen weights, and the averaged models' scores."""
    meta = best.meta
    out: dict[str, Any] = {}
    atomic_torch_save(run_dir / "final.pt", weights_payload(run.model, "final", state.step, meta))
    final_scores = test_metrics(run, run.model)
    averaged: dict[str, torch.nn.Module] = {}
    for cb in run.callbacks:
        which = {"EMACallback": "ema", "SWACallback": "swa"}.get(type(cb).__name__)
        if which is not None and run.data.bundle is not None:
            out.update(cb.summary(run.data.bundle))
            model = cb.averaged_model(run.data.bundle.x_train)
            averaged[which] = model
            atomic_torch_save(run_dir / f"{which}.pt", weights_payload(model, which, state.step, meta))
    choice = run.recipe.train.test_weights
    if choice == "best":
        weights = best.weights()
        if weights is None:
            choice, model, why = "final", run.model, "final (no validation split to pick the best weights on)"
        else:
            model = _with_weights(run, weights)
            why = f"best (validation {state.monitor} at step {state.best_step})"
    elif choice in averaged:
        model, why = averaged[choice], f"{choice} (averaged weights, BatchNorm statistics recomputed)"
    else:
        model, why = run.model, f"final (step {state.step})"
    out.update(test_metrics(run, model) if model is not run.model else final_scores)
    out["test_weights"] = why
    out.update({k.replace("test_", "test_final_", 1): v for k, v in final_scores.items()})
    if run.data.bundle is not None and run.task.name == "classification":
        b = run.data.bundle
        out["train_eval_accuracy"] = evaluate(run.model, b.x_train, b.y_train)["accuracy"]
    return out


def _with_weights(run: Run, weights: dict[str, torch.Tensor]) -> torch.nn.Module:
    import copy

    model = copy.deepcopy(run.model)
    model.load_state_dict(weights)
    return model.to(run.device).eval()


def recipe_of_run(run_dir: str | Path) -> Recipe:
    """The resolved recipe a run was started with (its config.json)."""
    import json

    path = Path(run_dir) / "config.json"
    if not Path(run_dir).is_dir():
        raise UserError(f"{run_dir} is not a folder (a trainwell run directory)")
    if not path.exists():
        raise UserError(f"{run_dir} is not a trainwell run directory (no config.json)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UserError(f"{path} is not a text file (binary data); the run directory is damaged") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is not valid JSON ({exc})") from exc
    except OSError as exc:
        raise UserError(f"{path} cannot be read ({exc.strerror or exc})") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path} does not hold a recipe (a JSON object), found {type(raw).__name__}")
    return recipe_from_dict(raw, str(path))


__all__ = ["RUN_FILES", "new_run_dir", "recipe_of_run", "safe_name", "test_metrics", "train_recipe",
           "weights_meta"]
