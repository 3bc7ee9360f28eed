"""The embedded storage: Optuna's JournalStorage on a file, with a torn tail repaired and heartbeats.

**A torn last line.** Optuna's `JournalFileBackend` appends one JSON line per operation. A process
killed in the middle of that write leaves a last line without its newline. Optuna 5.1 *reads*
such a file (it stops at the torn line), but the next append is glued onto the fragment, which
makes a line in the middle that is not JSON: from then on every read of the study raises (we
checked: ``tests/search/test_journal.py``). `repair_tail` cuts the fragment off — under the
journal's own lock, so it never races a live writer (a writer holds the lock for the whole
write) — before the storage is opened. The fragment was never a complete operation, so no
committed state is lost.

**Heartbeats.** Optuna's RDB storage records a heartbeat per RUNNING trial and
`optuna.storages.fail_stale_trials` fails the trials whose heartbeat is older than the grace
period (their worker died), calling a retry callback that re-queues the same parameters. Optuna 5.1's
JournalStorage has no heartbeat, so `HeartbeatJournalStorage` adds it through Optuna's own
heartbeat interface (`BaseHeartbeat`, which `fail_stale_trials` checks for): the heartbeat is a
trial system attribute (``trainwell:heartbeat``, a Unix time) appended as a journal operation; a
RUNNING trial is stale when its last heartbeat — or its start, if it never beat — is older than
`grace_period` seconds. The clocks of machines sharing one journal file should agree (NTP); the
RDB storage uses the database server's clock instead.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import optuna
from optuna.storages import JournalStorage
from optuna.storages._heartbeat import BaseHeartbeat  # Optuna's heartbeat interface (no public alias)
from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock
from optuna.trial import FrozenTrial, TrialState

HEARTBEAT_ATTR = "trainwell:heartbeat"


def repair_tail(path: str | Path, lock: JournalFileOpenLock | None = None) -> int:
    """Cut a torn last line (no trailing newline) off the journal at `path`; returns the bytes cut.

    Holds the journal's lock while it looks, so a line being written by a live process is never
    taken for a torn one.
    """
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return 0
    lock = lock or JournalFileOpenLock(str(path))
    lock.acquire()
    try:
        with open(path, "rb+") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(size - 1)
            if handle.read(1) == b"\n":
                return 0
            keep, end = 0, size
            while end > 0:  # find the end of the last complete line, reading backwards
                start = max(0, end - 65536)
                handle.seek(start)
                at = handle.read(end - start).rfind(b"\n")
                if at >= 0:
                    keep = start + at + 1
                    break
                end = start
            handle.truncate(keep)
            handle.flush()
            os.fsync(handle.fileno())
            return size - keep
    finally:
        lock.release()


class HeartbeatJournalStorage(JournalStorage, BaseHeartbeat):
    """JournalStorage with Optuna's heartbeat interface (see the module docstring)."""

    def __init__(self, backend: JournalFileBackend, heartbeat_interval: int, grace_period: int | None = None,
                 stale_trial_callback: Callable[[optuna.Study, FrozenTrial], None] | None = None):
        super().__init__(backend)
        if heartbeat_interval <= 0:
            raise ValueError(f"heartbeat_interval must be > 0, got {heartbeat_interval}")
        self.heartbeat_interval = int(heartbeat_interval)
        self.grace_period = int(grace_period) if grace_period is not None else 2 * self.heartbeat_interval
        self.stale_trial_callback = stale_trial_callback

    def record_heartbeat(self, trial_id: int) -> None:
        self.set_trial_system_attr(trial_id, HEARTBEAT_ATTR, time.time())

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        now = time.time()
        stale = []
        for trial in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
            beat = trial.system_attrs.get(HEARTBEAT_ATTR)
            if beat is None and trial.datetime_start is not None:  # never beat: judge by its start (local time)
                beat = trial.datetime_start.timestamp()
            if isinstance(beat, (int, float)) and now - float(beat) > self.grace_period:
                stale.append(trial._trial_id)  # noqa: SLF001 — FrozenTrial has no public id
        return stale

    def get_heartbeat_interval(self) -> int:
        return self.heartbeat_interval

    def get_heartbeat_stale_trial_callback(self) -> Callable[[optuna.Study, FrozenTrial], None] | None:
        return self.stale_trial_callback


def open_journal(path: str | Path, heartbeat_interval: int, grace_period: int | None,
                 stale_trial_callback: Callable | None) -> HeartbeatJournalStorage:
    """The journal file at `path` (created when missing), torn tail repaired, with heartbeats."""
    path = Path(path)
    lock = JournalFileOpenLock(str(path))
    repair_tail(path, lock)
    backend = JournalFileBackend(str(path), lock_obj=lock)
    return HeartbeatJournalStorage(backend, heartbeat_interval, grace_period, stale_trial_callback)

