"""The trial queue on an Optuna study: plan a stage, claim trials, finish them, recover from crashes.

Every trial of a search has a *slot* (``s1-t007``: stage 1, trial 7), fixed by the plan. The
stage's parameter points are enqueued (``study.enqueue_trial``, state WAITING) with the slot as a
user attribute; workers *claim* a WAITING trial by switching it to RUNNING — an atomic
compare-and-set in every Optuna storage, so two workers never get the same trial — run it, and
`tell` COMPLETE (value = validation accuracy) or FAIL (with the error as user attribute).

Slot states: **done** — a COMPLETE trial, or a FAIL that is a real failure (crash, NaN);
**pending** — WAITING or RUNNING; **missing** — neither (never enqueued, or its RUNNING trial
was reaped). Enqueueing only the missing slots makes planning idempotent, which is how a stopped
search resumes: it enqueues what is missing and runs it, and never repeats a done slot.

A RUNNING trial whose worker died (killed, machine lost) is *stale*: its worker was on this host
and that process no longer exists, or its heartbeat (a user attribute refreshed during training)
is older than `stale_after` seconds. Reaping marks it FAIL with ``interrupted = True`` (so its
slot counts as missing) and enqueues the slot again.

Planning and reaping take a short mutual-exclusion lock made of an atomic storage operation:
creating a study named ``<study>.lock.<what>`` (Optuna refuses to create a study whose name
exists). The lock is dropped by deleting that study; a lock older than `LOCK_STALE` seconds
(its holder died) is broken.
"""
from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.exceptions import DuplicatedStudyError, UpdateFinishedTrialError
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from trainwell.errors import UserError

LOCK_STALE = 60.0
STALE_AFTER = 600.0


def slot_name(stage: int, index: int) -> str:
    """'s1-t007' for stage 1 (1-based), trial index 7 (0-based)."""
    return f"s{stage}-t{index:03d}"


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale(trial: FrozenTrial, stale_after: float = STALE_AFTER, now: float | None = None) -> bool:
    """A RUNNING trial whose worker is gone (see the module docstring)."""
    if trial.state != TrialState.RUNNING:
        return False
    who = trial.user_attrs.get("worker", "")
    host, _, pid = who.rpartition(":")
    if host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid)):
        return True
    beat = trial.user_attrs.get("heartbeat")
    if beat is None:  # claimed but not yet marked: judge by the start time
        beat = trial.datetime_start.timestamp() if trial.datetime_start else None
    return beat is not None and (now or time.time()) - float(beat) > stale_after


def is_done(trial: FrozenTrial) -> bool:
    return trial.state == TrialState.COMPLETE or (trial.state == TrialState.FAIL and not trial.user_attrs.get("interrupted"))


def stage_trials(study: optuna.Study, stage: int) -> list[FrozenTrial]:
    return [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get("stage") == stage]


@dataclass
class StageStatus:
    total: int
    done: list[str]
    pending: list[str]
    missing: list[str]
    stale: list[FrozenTrial]

    @property
    def complete(self) -> bool:
        return len(self.done) == self.total


def stage_status(study: optuna.Study, stage: int, total: int, stale_after: float = STALE_AFTER) -> StageStatus:
    trials = stage_trials(study, stage)
    done = {t.user_attrs["slot"] for t in trials if is_done(t)}
    pending = {t.user_attrs["slot"] for t in trials if t.state in (TrialState.WAITING, TrialState.RUNNING)} - done
    slots = [slot_name(stage, i) for i in range(total)]
    stale = [t for t in trials if t.user_attrs["slot"] not in done and is_stale(t, stale_after)]
    missing = [s for s in slots if s not in done and s not in pending]
    return StageStatus(total, sorted(done), sorted(pending), missing, stale)


@contextmanager
def storage_lock(study: optuna.Study, what: str, timeout: float = 120.0) -> Iterator[None]:
    """Mutual exclusion across processes and machines sharing the study's storage."""
    storage = study._storage  # noqa: SLF001 — Optuna exposes no public accessor; used read-only for locks
    name = f"{study.study_name}.lock.{what}"
    start = time.monotonic()
    while True:
        try:
            lock_id = storage.create_new_study([StudyDirection.MAXIMIZE], name)
            storage.set_study_user_attr(lock_id, "created", time.time())
            break
        except DuplicatedStudyError:
            try:
                held = storage.get_study_id_from_name(name)
                created = storage.get_study_user_attrs(held).get("created", time.time())
                if time.time() - created > LOCK_STALE:
                    storage.delete_study(held)
                    continue
            except KeyError:
                continue
            if time.monotonic() - start > timeout:
                raise UserError(f"search: could not take the lock {name!r} in {timeout:.0f} s; if no other search runs, "
                                "delete that study from the storage") from None
            time.sleep(0.05)
    try:
        yield
    finally:
        try:
            storage.delete_study(lock_id)
        except KeyError:
            pass


def enqueue_missing(study: optuna.Study, stage: int, points: list[dict[str, Any]], steps: int | None,
                    stale_after: float = STALE_AFTER) -> list[str]:
    """Under the stage lock: reap stale trials, then enqueue every missing slot. Returns the slots enqueued."""
    with storage_lock(study, f"stage{stage}"):
        status = stage_status(study, stage, len(points), stale_after)
        for trial in status.stale:
            reap(study, trial)
        status = stage_status(study, stage, len(points), stale_after)
        for slot in status.missing:
            index = int(slot.split("-t")[1])
            study.enqueue_trial(points[index], user_attrs={"stage": stage, "slot": slot, "index": index, "steps": steps},
                                skip_if_exists=False)
        return status.missing


def reap(study: optuna.Study, trial: FrozenTrial) -> bool:
    """Mark a stale RUNNING trial FAIL (interrupted). False when another process finished it first."""
    storage = study._storage  # noqa: SLF001
    who = trial.user_attrs.get("worker", "?")
    try:
        storage.set_trial_user_attr(trial._trial_id, "interrupted", True)  # noqa: SLF001
        storage.set_trial_user_attr(trial._trial_id, "error", f"interrupted: worker {who} stopped before finishing")  # noqa: SLF001
        return bool(storage.set_trial_state_values(trial._trial_id, TrialState.FAIL))  # noqa: SLF001
    except UpdateFinishedTrialError:
        return False


def claim(study: optuna.Study, stage: int, limit: int = 1) -> list[optuna.Trial]:
    """Up to `limit` WAITING trials of `stage`, switched to RUNNING by this process (atomic per trial)."""
    storage = study._storage  # noqa: SLF001
    out: list[optuna.Trial] = []
    waiting = storage.get_all_trials(study._study_id, deepcopy=False, states=(TrialState.WAITING,))  # noqa: SLF001
    for frozen in waiting:
        if len(out) >= limit:
            break
        if frozen.user_attrs.get("stage") != stage:
            continue
        try:
            if not storage.set_trial_state_values(frozen._trial_id, state=TrialState.RUNNING):  # noqa: SLF001
                continue
        except UpdateFinishedTrialError:
            continue
        trial = optuna.Trial(study, frozen._trial_id)  # noqa: SLF001
        trial.set_user_attr("worker", worker_id())
        trial.set_user_attr("heartbeat", time.time())
        out.append(trial)
    return out


def store_json(study: optuna.Study, key: str, value: Any) -> None:
    study.set_user_attr(key, json.dumps(value, sort_keys=True))


def load_json(study: optuna.Study, key: str) -> Any:
    text = study.user_attrs.get(key)
    return None if text is None else json.loads(text)
