"""Where a search's Optuna studies live, with heartbeats so a dead worker's trial is retried.

* Default (no server): a journal file ``<search dir>/study.journal`` — Optuna's `JournalStorage`
  over a `JournalFileBackend` with a `JournalFileOpenLock` (an ``open(O_CREAT | O_EXCL)`` lock
  file, which works on any local file system), its torn tail repaired on open and with heartbeats
  (see `journal`). Several local processes (``--workers``) share it safely.
* ``--storage URL`` (or the environment variable ``TRAINWELL_STORAGE``, which keeps a password
  out of the shell history and the process list): an Optuna RDB URL, e.g.
  ``postgresql://user:pw@host/db`` (needs ``pip install 'trainwell[postgres]'``) or
  ``sqlite:///search.db``; or ``journal:PATH`` for a journal file elsewhere (a shared file
  system). Workers on several machines that give the same URL and ``--study-name`` join the same
  study.

Every storage records a heartbeat per RUNNING trial every `heartbeat_interval` seconds
(`RDBStorage(heartbeat_interval=..., grace_period=...)` for databases, `HeartbeatJournalStorage`
for journals). `optuna.storages.fail_stale_trials` — which each worker calls before it asks for
a trial — marks a RUNNING trial whose heartbeat is older than `grace_period` FAIL, and Optuna's
`RetryHeartbeatStaleTrialCallback` (the successor of `RetryFailedTrialCallback`) re-queues its
parameters as a WAITING trial that the next `study.ask()` pops: a killed worker loses no
configuration and none runs twice to completion.

A password in the URL is masked (``postgresql://user:***@host/db``) in every message and file;
see `redact`.
"""
from __future__ import annotations

import importlib.util
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import optuna
from optuna.exceptions import ExperimentalWarning
from optuna.storages import BaseStorage, RetryHeartbeatStaleTrialCallback

from trainwell.errors import UserError
from trainwell.search.journal import open_journal
from trainwell.search.redact import Redactor, mask_url

JOURNAL = "study.journal"
ENV = "TRAINWELL_STORAGE"
HEARTBEAT_INTERVAL = 10  # seconds between heartbeats of a running trial
GRACE_PERIOD = 40  # a running trial without a heartbeat for this long is failed and retried
MAX_RETRY = 3  # a configuration whose worker dies this many times is not retried again

POSTGRES_DRIVERS = ("psycopg", "psycopg2")


@contextmanager
def quiet_optuna() -> Iterator[None]:
    """Silence Optuna's notes that heartbeats are experimental and "supposed to be used with
    Study.optimize": trainwell runs the heartbeat thread itself around ask/tell (see `worker`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
        yield


def default_storage(search_dir: str | Path) -> str:
    return f"journal:{Path(search_dir) / JOURNAL}"


def retry_callback() -> RetryHeartbeatStaleTrialCallback:
    """Optuna's callback that re-queues a stale trial's parameters (at most `MAX_RETRY` times)."""
    with quiet_optuna():
        return RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def database_url(url: str) -> str:
    """The SQLAlchemy URL to open: a PostgreSQL URL without a driver gets the one installed.

    SQLAlchemy 2.0 maps ``postgresql://`` to psycopg2 and 2.1 to psycopg (3); the
    ``trainwell[postgres]`` extra installs psycopg, so ``postgresql://`` becomes
    ``postgresql+psycopg://`` where psycopg2 is missing. No driver at all is a `UserError`
    that names the extra.
    """
    scheme, sep, rest = url.partition("://")
    dialect, _, driver = scheme.partition("+")
    if dialect in ("postgresql", "postgres"):
        wanted = [driver] if driver else list(POSTGRES_DRIVERS)
        have = [d for d in wanted if _has(d)]
        if not have:
            raise UserError(f"--storage {mask_url(url)}: the PostgreSQL driver ({' or '.join(wanted)}) is not installed; "
                            "install it with: pip install 'trainwell[postgres]'")
        if not driver:
            return f"postgresql+{have[0]}{sep}{rest}"
    return url


def open_storage(spec: str, heartbeat_interval: int = HEARTBEAT_INTERVAL, grace_period: int = GRACE_PERIOD) -> BaseStorage:
    """An Optuna storage with heartbeats for `spec` ("journal:PATH" or a database URL)."""
    if spec.startswith("journal:"):
        path = Path(spec[len("journal:"):])
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"--storage {spec}: cannot create its folder ({exc.strerror or exc})") from None
        return open_journal(path, heartbeat_interval, grace_period, retry_callback())
    if "://" not in spec:
        shown = mask_url(spec) if "@" not in spec or "//" in spec else "…@" + spec.rsplit("@", 1)[1]
        raise UserError(f"--storage {shown!r}: expected a database URL like postgresql://user@host/db or "
                        "sqlite:///search.db, or journal:PATH for a journal file")
    redact = Redactor(spec)
    url = database_url(spec)
    try:
        with quiet_optuna():
            return optuna.storages.RDBStorage(url, heartbeat_interval=heartbeat_interval, grace_period=grace_period,
                                              heartbeat_stale_trial_callback=retry_callback())
    except ModuleNotFoundError as exc:
        raise UserError(redact(f"--storage {spec}: the database driver {exc.name!r} is not installed "
                               "(for PostgreSQL: pip install 'trainwell[postgres]')")) from None
    except Exception as exc:  # noqa: BLE001 — SQLAlchemy's errors for a bad URL or an unreachable server
        raise UserError(redact(f"--storage {spec}: cannot open it ({type(exc).__name__}: {exc})")) from None


def storage_from_env(value: str | None) -> str | None:
    """`value` (the --storage option) or else the ``TRAINWELL_STORAGE`` environment variable."""
    return value or os.environ.get(ENV) or None
