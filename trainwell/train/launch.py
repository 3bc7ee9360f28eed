"""Start N local processes of a data-parallel run with torch's elastic launcher (torchrun's engine).

    failures = run_local(2, fn, (argv,))   # fn(argv) in 2 processes; [] when all of them succeeded

Each process gets RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT (what torchrun sets)
and joins the process group with `trainwell.train.distributed.init_from_env`. The rendezvous is a
c10d store on a free local port (torchrun --standalone), so several launches can run side by side.
The processes are spawned from this one (`fn` must be importable): they are in this process's
process group — a kill of the group (Ctrl-C, SIGKILL to a job) takes them with it — and get SIGINT
should this process die alone. When one process fails the launcher stops the others (no restarts)
and `run_local` returns who failed with which exit code; their own messages are on the console.
Ctrl-C reaches every process (each stops as `trainwell train` does on Ctrl-C) and raises
KeyboardInterrupt here.
"""
from __future__ import annotations

import logging
import signal
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from trainwell.errors import UserError

# torch's launcher logs each failure with a traceback of its own monitoring code; the processes'
# own messages and `Failure` say what went wrong, so its loggers are quiet during a launch
_NOISY = ("torch.distributed.elastic", "torch.multiprocessing")


@dataclass(frozen=True)
class Failure:
    """A process of the run that failed: its rank and exit code (negative: killed by that signal)."""

    rank: int
    exitcode: int

    def describe(self) -> str:
        how = f"was killed by signal {-self.exitcode}" if self.exitcode < 0 else f"exited with code {self.exitcode}"
        return f"process rank {self.rank} {how}"


def run_local(nproc: int, fn: Callable[..., Any], args: Sequence[Any] = ()) -> list[Failure]:
    """Run `fn(*args)` in `nproc` local processes of one data-parallel run (see the module
    docstring); returns the failures, first one first (empty: every process succeeded)."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    if not isinstance(nproc, int) or nproc < 1:
        raise UserError(f"--nproc must be a whole number of processes >= 1, got {nproc!r}")
    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=f"trainwell-{uuid.uuid4().hex[:12]}",
                          rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0, monitor_interval=0.1,
                          start_method="spawn")
    names = [n for n in logging.root.manager.loggerDict if n.startswith(_NOISY)]  # each has a level of its own
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        elastic_launch(config, fn)(*args)
    except ChildFailedError as exc:
        ordered = sorted(exc.failures.items(), key=lambda item: (item[1].timestamp, item[0]))
        return [Failure(rank, int(f.exitcode)) for rank, f in ordered]
    except SignalException as exc:  # the launcher got a signal and stopped the processes
        if exc.sigval == signal.SIGINT:
            raise KeyboardInterrupt from None
        raise
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
    return []


__all__ = ["Failure", "run_local"]
