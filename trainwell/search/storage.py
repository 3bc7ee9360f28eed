"""Where a search's Optuna study lives.

* Default (no server): a journal file ``<search dir>/study.journal`` — Optuna's `JournalStorage`
  over a `JournalFileBackend` with a `JournalFileOpenLock` (an ``open(O_CREAT | O_EXCL)`` lock
  file, which works on any local file system). Every write is one appended log line under the
  lock and every read replays the lines it has not seen, so several local processes (the
  ``--workers``) share the study safely.
* ``--storage URL``: an Optuna storage URL, e.g. ``postgresql://user:pw@host/db`` or
  ``sqlite:///search.db`` (RDB), or ``journal:PATH`` for a journal file elsewhere (on a shared
  file system). Workers on several machines that give the same URL and ``--study-name`` join the
  same study.

A `StorageSpec` is a plain string, so it can be handed to spawned worker processes.
"""
from __future__ import annotations

from pathlib import Path

import optuna
from optuna.storages import BaseStorage, JournalStorage
from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

from trainwell.errors import UserError

JOURNAL = "study.journal"


def default_storage(search_dir: str | Path) -> str:
    return f"journal:{Path(search_dir) / JOURNAL}"


def open_storage(spec: str) -> BaseStorage | str:
    """An Optuna storage for `spec` ("journal:PATH" or an RDB URL)."""
    if spec.startswith("journal:"):
        path = Path(spec[len("journal:"):])
        path.parent.mkdir(parents=True, exist_ok=True)
        backend = JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path) + ".lock"))
        return JournalStorage(backend)
    if "://" not in spec:
        raise UserError(f"--storage {spec!r}: expected a database URL like postgresql://user@host/db or "
                        "sqlite:///search.db, or journal:PATH for a journal file")
    try:
        return optuna.storages.RDBStorage(spec)
    except (ImportError, ModuleNotFoundError) as exc:
        raise UserError(f"--storage {spec!r}: the database driver is not installed ({exc})") from exc
    except Exception as exc:  # sqlalchemy's errors for a bad URL or an unreachable server
        raise UserError(f"--storage {spec!r}: cannot open it ({type(exc).__name__}: {exc})") from exc


def open_study(spec: str, name: str, create: bool = True) -> optuna.Study:
    """The study `name` in storage `spec` (created when missing and `create`), maximizing."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(spec)
    if create:
        return optuna.create_study(storage=storage, study_name=name, direction="maximize", load_if_exists=True)
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError as exc:
        raise UserError(f"no study named {name!r} in {spec}") from exc
