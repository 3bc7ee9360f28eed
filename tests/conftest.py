"""Test session settings: one intra-op thread per pytest worker.

The suite runs with two xdist workers on two cores; letting each worker's torch use two threads
oversubscribes the CPU and makes OpenMP spin, which slows small ops by an order of magnitude.
"""
import importlib.util
import sys
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)


def faults_harness():
    """tests/faults/harness.py under the module name tests/faults/conftest.py gives it (loaded here when
    that suite is not collected)."""
    name = "trainwell_faults_harness"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).parent / "faults" / "harness.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture
def read_only():
    """`with read_only(path) as folder:` a new folder nobody can write into while the block runs: mode 0555,
    or for root the immutable attribute (`chattr +i`); the test is skipped where neither works."""
    return faults_harness().read_only
