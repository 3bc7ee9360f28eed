"""Train one run with cosine restarts and turn its cycle-end snapshots into an `Ensemble`.

The recipe's schedule must be ``cosine_restarts`` (or pass `cycles` to use one with that many
cycles). The snapshots are the members; the last one is the model a plain run would end with, so
``scores["members"][-1]`` is the single-model baseline of the same budget.

Example:
    >>> run = train_snapshots(load_recipe("recipes/ensemble_snapshot.toml"))
    >>> run.scores["ensemble"], run.scores["members"][-1]
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from trainwell.config import Recipe, recipe_to_dict
from trainwell.ensemble.ensemble import Ensemble, spec_for
from trainwell.ensemble.independent import EnsembleRun, score
from trainwell.ensemble.snapshot import SnapshotCallback, snapshot_steps
from trainwell.errors import UserError


def with_restarts(recipe: Recipe, cycles: int | None) -> Recipe:
    """The recipe with a ``cosine_restarts`` schedule of `cycles` cycles (its own if None)."""
    if cycles is not None:
        recipe = recipe.model_copy(deep=True)
        recipe.schedule = {"name": "cosine_restarts", "cycles": int(cycles)}
    elif recipe.schedule.get("name") != "cosine_restarts":
        raise UserError(
            f"a snapshot ensemble needs schedule.name = \"cosine_restarts\" (recipe {recipe.name!r} has "
            f"{recipe.schedule.get('name')!r}); set it in the recipe or pass the number of cycles"
        )
    return recipe


def train_snapshots(recipe: Recipe, cycles: int | None = None, *, keep_last: int | None = None,
                    out_dir: str | Path | None = None, progress: bool = False, tta: Any = None) -> EnsembleRun:
    """One run, a snapshot at the end of every cycle, the snapshots averaged (Huang et al. 2017)."""
    from trainwell.assemble import from_recipe
    from trainwell.optim import build_schedule

    recipe = with_restarts(recipe, cycles)
    run_dir = Path(out_dir) if out_dir is not None and recipe.train.checkpoint else None
    run = from_recipe(recipe, run_dir=run_dir, progress=progress)
    total = run.settings.total_steps
    snap = SnapshotCallback(snapshot_steps(build_schedule(recipe.schedule), total, keep_last))
    run.callbacks.insert(0, snap)
    start = time.perf_counter()
    state = run.fit(resume=run_dir / "last.pt" if run_dir is not None and (run_dir / "last.pt").exists() else None)
    if run.device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    if state.diverged:
        raise UserError(f"snapshot run diverged: {state.stop_reason}")
    data, pipeline = run.data.bundle, run.data.pipeline
    ens = Ensemble(snap.models(run.model), spec_for(recipe.model, data.input_shape, data.num_classes),
                   config=recipe_to_dict(recipe), preprocess=pipeline.state_dict())
    result = EnsembleRun("snapshot", ens, recipe, data, pipeline, [recipe.seed], "trainer (one run)", seconds,
                         extra={"snapshot_steps": snap.taken_at, "total_steps": total})
    return score(result, tta)


__all__ = ["train_snapshots", "with_restarts"]
