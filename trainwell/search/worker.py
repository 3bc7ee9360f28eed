"""A search worker on Optuna's ask/tell: ask the stage's study for trials, run them, tell the results.

One stage is one Optuna study with a budget of `trials` trials. A worker loops:

1. ``optuna.storages.fail_stale_trials(study)`` — a RUNNING trial whose heartbeat stopped (its
   worker was killed) becomes FAIL, and the storage's retry callback re-queues its parameters as a
   WAITING trial (see `storage`);
2. if the study has a WAITING trial or fewer than `trials` trials that take a place (`counted`),
   ``study.ask()`` — which pops a WAITING trial first — up to `batch` times; otherwise wait while
   other workers' trials run, and stop when none is left;
3. suggest the trial's parameters with a sampler seeded for that trial (`samplers.trial_seed`),
   run it (one by one, or K at once with the objective's ``run_many``) while a thread records its
   heartbeat, and ``study.tell`` COMPLETE with its final figure, PRUNED (with the steps it ran),
   or FAIL with the error in the user attribute ``error`` — the study goes on.

Which trials take a place: all but the FAIL trials that were retried (their number is in a later
trial's ``retry_history``) and the surplus ones. Two workers that ask at the same moment when one
place is left both get a trial; the one that comes later in (retries first, then trial number)
order is *surplus*: told FAIL with ``surplus = True`` before it runs, and left out of every record.
So no configuration is lost (a killed worker's trial is retried with the same parameters) and none
is counted twice.

An objective is any picklable callable ``objective(spec: TrialSpec) -> dict`` returning at least
``{"value": float}`` (other numbers become user attributes; ``"pruned": reason`` means it was
stopped early). An exception, or a non-finite value, records FAIL. An objective with
``run_many(specs) -> list[dict | Exception]`` can run several trials at once (vectorized).

Stopping a worker (Ctrl-C, SIGTERM) tells its running trials FAIL with ``interrupted = True`` and
re-queues them at once through the same retry callback; a killed one (SIGKILL, a lost machine)
is re-queued by the heartbeat after the grace period.
"""
from __future__ import annotations

import math
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

from trainwell.search.objective import TrialSpec
from trainwell.search.prune_callback import TrialPruning
from trainwell.search.pruning import hopeless
from trainwell.search.samplers import make_sampler, sampler_seed
from trainwell.search.sampling import suggest
from trainwell.search.space import Dim, decode_choice
from trainwell.search.storage import quiet_optuna, retry_callback


@dataclass
class Stage:
    """What a worker needs to work on one stage: its study, storage (for heartbeats) and budget."""

    study: optuna.Study
    storage: Any
    number: int  # 1-based
    space: list[Dim]
    trials: int
    steps: int | None
    sampler: str = "random"
    pruner: str = "none"
    hopeless: bool = True
    metric: str = "accuracy"
    seed: int = 0
    search_dir: Path | None = None
    redact: Callable[[str], str] = str


def retried_numbers(trials: list[FrozenTrial]) -> set[int]:
    """Numbers of the trials that a later trial retries (Optuna's ``retry_history``)."""
    return {n for t in trials for n in t.system_attrs.get("retry_history", []) if isinstance(n, int)}


def counted(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    """The trials that take a place of the budget (see the module docstring)."""
    retried = retried_numbers(trials)
    return [t for t in trials if not t.user_attrs.get("surplus") and not (t.state == TrialState.FAIL and t.number in retried)]


def _order(t: FrozenTrial) -> tuple[int, int]:
    return (0 if "failed_trial" in t.system_attrs else 1, t.number)  # retries before fresh trials


def is_surplus(number: int, trials: list[FrozenTrial], budget: int) -> bool:
    """Whether trial `number` falls outside the first `budget` places (retries first, then by number)."""
    kept = {t.number for t in sorted(counted(trials), key=_order)[:budget]}
    return number not in kept


def trial_dir(search_dir: Path | None, stage: int, number: Any) -> Path | None:
    """``<search dir>/trials/stage<S>-<NNNN>`` — from integers only, never from text in the storage."""
    if search_dir is None:
        return None
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise ValueError(f"trial number {number!r} from the storage is not a non-negative integer")
    return Path(search_dir) / "trials" / f"stage{int(stage)}-{number:04d}"


class Heartbeat:
    """Records the heartbeat of RUNNING trials every interval from a thread (Optuna's mechanism)."""

    def __init__(self, storage: Any, trial_ids: list[int]):
        self.storage = storage
        self.trial_ids = trial_ids
        self.interval = storage.get_heartbeat_interval() if hasattr(storage, "get_heartbeat_interval") else None
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def beat(self) -> None:
        if not self.interval:
            return
        for trial_id in self.trial_ids:
            try:
                self.storage.record_heartbeat(trial_id)
            except Exception:  # noqa: BLE001 — a finished trial or a storage hiccup: the next beat retries
                pass

    def __enter__(self) -> "Heartbeat":
        if self.interval:
            self.beat()
            self.thread = threading.Thread(target=self._run, name="trainwell-heartbeat", daemon=True)
            self.thread.start()
        return self

    def _run(self) -> None:
        while not self.stop.wait(self.interval):
            self.beat()

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()


def fail_stale(study: optuna.Study) -> None:
    """`optuna.storages.fail_stale_trials` (fails the trials of dead workers; the callback retries them)."""
    with quiet_optuna():
        optuna.storages.fail_stale_trials(study)


def _params(stage: Stage, trial: optuna.Trial) -> dict[str, Any]:
    """Suggest the trial's parameters with a sampler seeded for this trial; check retried values."""
    stage.study.sampler = make_sampler(stage.sampler, stage.space, stage.trials, sampler_seed(stage.sampler, stage.seed, stage.number, trial.number))
    params = {}
    for dim in stage.space:
        value = suggest(trial, dim.name, dim.distribution())
        value = value if dim.numeric else decode_choice(dim, value)
        if not dim.contains(value):
            raise ValueError(f"{dim.name}={value!r} from the storage is outside the space ({dim.describe()})")
        params[dim.name] = value
    return params


def _attrs(trial: optuna.Trial, outcome: dict[str, Any]) -> None:
    for key, v in outcome.items():
        if key != "value" and isinstance(v, (int, float, str, bool)) and not (isinstance(v, float) and not math.isfinite(v)):
            trial.set_user_attr(key, v)


def tell(stage: Stage, trial: optuna.Trial, outcome: dict[str, Any] | BaseException) -> TrialState:
    """Tell the study how a trial ended: COMPLETE, PRUNED (with its steps) or FAIL (with the error).

    A trial that another worker already failed as stale (this one stalled past the grace period)
    cannot be told any more; its retry counts instead, and FAIL is returned.
    """
    try:
        return _tell(stage, trial, outcome)
    except UpdateFinishedTrialError:
        return TrialState.FAIL


def _tell(stage: Stage, trial: optuna.Trial, outcome: dict[str, Any] | BaseException) -> TrialState:
    study = stage.study
    error = None
    if isinstance(outcome, BaseException):
        error = f"{type(outcome).__name__}: {outcome}"
        outcome = {}
    value = outcome.get("value")
    pruned = outcome.get("pruned")
    if error is None and pruned is None and (not isinstance(value, (int, float)) or not math.isfinite(value)):
        error = outcome.get("error") or f"the objective returned value={value!r} (not a finite number; diverged?)"
    _attrs(trial, {**outcome, "steps": stage.steps} if stage.steps is not None else outcome)
    if error is not None:
        trial.set_user_attr("error", stage.redact(error)[:2000])
        state = TrialState.FAIL
        frozen = study.tell(trial, state=state, skip_if_finished=True)
    elif pruned is not None:
        state = TrialState.PRUNED
        frozen = study.tell(trial, state=state, skip_if_finished=True)
    else:
        state = TrialState.COMPLETE
        frozen = study.tell(trial, float(value), skip_if_finished=True)
    return frozen.state if frozen is not None else state


def requeue(study: optuna.Study, trial: optuna.Trial, reason: str) -> None:
    """Tell an unfinished trial FAIL (interrupted) and re-queue its parameters at once."""
    try:
        trial.set_user_attr("interrupted", True)
        trial.set_user_attr("error", reason)
        frozen = study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
        if frozen is not None and frozen.state == TrialState.FAIL:
            retry_callback()(study, frozen)
    except Exception:  # noqa: BLE001 — best effort on the way out; the heartbeat covers the rest
        pass


def _run(objective: Callable, spec: TrialSpec, redact: Callable[[str], str]) -> dict[str, Any] | BaseException:
    try:
        return objective(spec)
    except Exception as exc:  # noqa: BLE001 — a crashing trial must not stop the study
        if spec.run_dir is not None:
            spec.run_dir.mkdir(parents=True, exist_ok=True)
            (spec.run_dir / "error.txt").write_text(redact(traceback.format_exc()))
        return exc


def ask(stage: Stage, want: int) -> list[optuna.Trial]:
    """Up to `want` trials from the study (WAITING ones first); a surplus trial is told FAIL and dropped."""
    out = []
    for _ in range(want):
        with quiet_optuna():
            trial = stage.study.ask()
        Heartbeat(stage.storage, [trial._trial_id]).beat()  # noqa: SLF001 — at once: a trial that never beat is never stale (RDB)
        if trial.number is None or is_surplus(trial.number, stage.study.get_trials(deepcopy=False), stage.trials):
            trial.set_user_attr("surplus", True)
            stage.study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
            break
        out.append(trial)
    return out


def run_stage(stage: Stage, objective: Callable, *, batch: int = 1, poll: float = 0.5,
              on_finish: Callable[[], None] | None = None, max_trials: int | None = None) -> int:
    """Work on `stage` until every trial of its budget has finished; returns the trials this worker ran.

    `max_trials` stops early (tests use it to simulate a worker that leaves).
    """
    many = getattr(objective, "run_many", None) if batch > 1 else None
    ran = 0
    while max_trials is None or ran < max_trials:
        fail_stale(stage.study)
        trials = stage.study.get_trials(deepcopy=False)
        places = counted(trials)
        waiting = sum(t.state == TrialState.WAITING for t in places)
        want = min(batch if many is not None else 1, waiting + max(stage.trials - len(places), 0))
        if max_trials is not None:
            want = min(want, max_trials - ran)
        if want <= 0:
            if any(t.state == TrialState.RUNNING for t in places):
                time.sleep(poll)  # other workers' trials are running; one may die and be retried
                continue
            break
        asked = ask(stage, want)
        if not asked:
            continue
        try:
            specs, todo = [], []
            for trial in asked:
                try:
                    params = _params(stage, trial)
                except Exception as exc:  # noqa: BLE001 — a bad stored parameter fails this trial only
                    tell(stage, trial, exc)
                    continue
                pruning = None
                if stage.pruner != "none" or many is None:
                    pruning = TrialPruning(trial, stage.metric, stage.pruner,
                                           hopeless if stage.hopeless and stage.pruner != "none" else None)
                specs.append(TrialSpec(trial.number, stage.number, params, stage.steps,
                                       trial_dir(stage.search_dir, stage.number, trial.number), stage.metric, pruning))
                todo.append(trial)
            with Heartbeat(stage.storage, [t._trial_id for t in todo]):  # noqa: SLF001 — Trial has no public id
                if not specs:
                    outcomes = []
                elif many is not None and len(specs) > 1:
                    try:
                        outcomes = many(specs)
                    except Exception as exc:  # noqa: BLE001
                        outcomes = [exc] * len(specs)
                else:
                    outcomes = [_run(objective, s, stage.redact) for s in specs]
            for trial, outcome in zip(todo, outcomes):
                tell(stage, trial, outcome)
        except BaseException as exc:  # Ctrl-C / SIGTERM: give the trials back before leaving
            if not isinstance(exc, Exception):
                for trial in asked:
                    requeue(stage.study, trial, f"interrupted ({type(exc).__name__}) before it finished; re-queued")
            raise
        ran += len(asked)
        if on_finish is not None:
            on_finish()
    return ran
