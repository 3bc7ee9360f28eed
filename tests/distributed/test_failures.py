"""A failure in one process of a data-parallel run stops the run with a clear error; nothing hangs.

* `from_main`: a UserError of rank 0 (a bad run directory) is raised in every process, so no
  process waits at a collective for a peer that stopped;
* a silent peer: a collective gives up after TRAINWELL_DIST_TIMEOUT seconds (here 3) with an error;
* `--nproc` (torch's elastic launcher): a process that exits while the other waits in a collective
  stops the run; `run_local` names the failed rank and its exit code.
"""
import time

import pytest
import torch

from trainwell.train.launch import Failure, run_local

pytestmark = pytest.mark.slow  # each test starts 2 processes (seconds each to import torch)
WAITS_FOR_A_DEAD_PEER = (
    "import os, torch.distributed as d\n"
    "d.init_process_group('gloo')\n"
    "if d.get_rank() == 1:\n"
    "    os._exit(3)\n"
    "d.barrier()\n"
)


def test_rank0_errors_reach_every_process_and_a_silent_peer_times_out(tmp_path, ddp):
    start = time.perf_counter()
    ddp.run_group("failures", tmp_path / "out", TRAINWELL_DIST_TIMEOUT="3")
    rank0, rank1 = (torch.load(tmp_path / f"out.{r}") for r in range(2))
    assert rank0["message"] == "the run directory is a file"
    assert rank1["message"] == "rank 0 stopped the run: the run directory is a file"
    assert rank0["outcome"].startswith("raised") and 2.5 < rank0["seconds"] < 60, rank0
    assert time.perf_counter() - start < 170


def test_the_launcher_stops_the_run_when_one_process_dies():
    start = time.perf_counter()
    failures = run_local(2, exec, (WAITS_FOR_A_DEAD_PEER,))
    assert failures and failures[0] == Failure(rank=1, exitcode=3), failures
    assert failures[0].describe() == "process rank 1 exited with code 3"
    assert time.perf_counter() - start < 170
