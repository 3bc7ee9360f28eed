"""A search worker: claim trials of a stage, run them, tell the study — until the stage is done.

An *objective* is any picklable callable ``objective(spec: TrialSpec) -> dict`` returning at least
``{"value": float}`` (the validation accuracy to maximize; other numbers become user attributes).
An exception, or a value that is NaN/inf, records the trial as FAIL with the error in its user
attribute ``error`` — the study goes on. An objective that also has ``run_many(specs) -> list[dict
| Exception]`` can run several trials at once (vectorized); the worker then claims up to `batch`
trials per call.

`worker_main` is the entry point of a spawned local worker process: it sets
``torch.set_num_threads(threads)`` (1 by default: N processes on N cores, no oversubscription),
opens the storage itself, and runs `run_stage`.
"""
from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState

from trainwell.search import queue
from trainwell.search.sampling import suggest
from trainwell.search.space import Dim, decode_choice, parse_space


@dataclass
class TrialSpec:
    """One trial as an objective sees it."""

    number: int
    slot: str
    stage: int
    params: dict[str, Any]
    steps: int | None
    run_dir: Path | None = None
    heartbeat: Callable[[], None] | None = field(default=None, repr=False)


def _beat(trial: optuna.Trial, every: float = 30.0) -> Callable[[], None]:
    last = [time.time()]

    def beat() -> None:
        now = time.time()
        if now - last[0] >= every:
            last[0] = now
            try:
                trial.set_user_attr("heartbeat", now)
            except UpdateFinishedTrialError:
                pass

    return beat


def spec_of(trial: optuna.Trial, stage: int, dims: dict[str, Dim], search_dir: Path | None) -> TrialSpec:
    """The claimed trial's parameters (suggested from its stage's distributions; enqueued values come back)."""
    params = {}
    for name, dim in dims.items():
        value = suggest(trial, name, dim.distribution())
        params[name] = value if dim.numeric else decode_choice(dim, value)
    slot = trial.user_attrs["slot"]
    run_dir = search_dir / "trials" / slot if search_dir is not None else None
    return TrialSpec(trial.number, slot, stage, params, trial.user_attrs.get("steps"), run_dir, _beat(trial))


def finish(study: optuna.Study, trial: optuna.Trial, outcome: dict[str, Any] | BaseException) -> TrialState:
    """Tell the study how a claimed trial ended (COMPLETE with its value, or FAIL with the error)."""
    error = None
    if isinstance(outcome, BaseException):
        error = f"{type(outcome).__name__}: {outcome}"
        outcome = {}
    value = outcome.get("value")
    if error is None and (value is None or not isinstance(value, (int, float)) or not math.isfinite(value)):
        error = outcome.get("error") or f"the objective returned value={value!r} (not a finite number; diverged?)"
    try:
        for key, v in outcome.items():
            if key != "value" and isinstance(v, (int, float, str, bool)) and not (isinstance(v, float) and not math.isfinite(v)):
                trial.set_user_attr(key, v)
        if error is not None:
            trial.set_user_attr("error", error[:2000])
            study.tell(trial, state=TrialState.FAIL)
            return TrialState.FAIL
        study.tell(trial, float(value))
        return TrialState.COMPLETE
    except UpdateFinishedTrialError:  # reaped as stale meanwhile; the re-enqueued copy counts
        return TrialState.FAIL


def _run_one(objective: Callable, spec: TrialSpec) -> dict[str, Any] | BaseException:
    try:
        return objective(spec)
    except Exception as exc:  # noqa: BLE001 — a crashing trial must not stop the study
        if spec.run_dir is not None:
            spec.run_dir.mkdir(parents=True, exist_ok=True)
            (spec.run_dir / "error.txt").write_text(traceback.format_exc())
        return exc


def run_stage(
    study: optuna.Study,
    stage: int,
    objective: Callable,
    *,
    search_dir: Path | None = None,
    batch: int = 1,
    poll: float = 0.2,
    stale_after: float = queue.STALE_AFTER,
    on_finish: Callable[[], None] | None = None,
    max_trials: int | None = None,
) -> int:
    """Work on `stage` until all its slots are done; returns the number of trials this worker ran.

    `max_trials` stops early (tests use it to simulate a worker that leaves).
    """
    space = parse_space(queue.load_json(study, f"space.stage{stage}"), f"stage {stage} space")
    points = queue.load_json(study, f"points.stage{stage}")
    steps = queue.load_json(study, f"steps.stage{stage}")
    dims = {d.name: d for d in space}
    many = getattr(objective, "run_many", None) if batch > 1 else None
    ran = 0
    while max_trials is None or ran < max_trials:
        limit = batch if many is not None else 1
        if max_trials is not None:
            limit = min(limit, max_trials - ran)
        claimed = queue.claim(study, stage, limit)
        if claimed:
            specs = [spec_of(trial, stage, dims, search_dir) for trial in claimed]
            if many is not None and len(specs) > 1:
                try:
                    outcomes = many(specs)
                except Exception as exc:  # noqa: BLE001
                    outcomes = [exc] * len(specs)
            else:
                outcomes = [_run_one(objective, s) for s in specs]
            for trial, outcome in zip(claimed, outcomes):
                finish(study, trial, outcome)
            ran += len(claimed)
            if on_finish is not None:
                on_finish()
            continue
        status = queue.stage_status(study, stage, len(points), stale_after)
        if status.complete:
            break
        if status.stale or status.missing:
            queue.enqueue_missing(study, stage, points, steps, stale_after)
        else:
            time.sleep(poll)
    return ran


def worker_main(storage: str, study_name: str, stage: int, objective: Callable, search_dir: str | None,
                batch: int = 1, threads: int = 1, stale_after: float = queue.STALE_AFTER) -> int:
    """Entry point of a spawned worker process (see the module docstring)."""
    import torch

    from trainwell.search.storage import open_study

    torch.set_num_threads(threads)
    study = open_study(storage, study_name, create=False)
    return run_stage(study, stage, objective, search_dir=Path(search_dir) if search_dir else None,
                     batch=batch, stale_after=stale_after)
