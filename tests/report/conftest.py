"""Fixtures for the report tests: headless Chromium, installed with apt-get where missing.

`chromium` finds a Chromium binary; where there is none and this process may install system
packages (root, apt-get present, TRAINWELL_NO_APT unset), it installs Debian's ``chromium``
package once (``apt-get install -y --no-install-recommends chromium``, after ``apt-get update``
if the first try fails), under a file lock so parallel workers do not race; otherwise the test is
skipped with the reason. `load_page` is `browser.load_page` bound to that binary.
"""
from __future__ import annotations

import fcntl
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("trainwell_tests_browser", Path(__file__).with_name("browser.py"))
browser = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = browser  # (dataclasses look their module up there)
_spec.loader.exec_module(browser)

APT = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]


def _install_chromium() -> str:
    """'' when Chromium is installed now, else why it could not be."""
    if os.environ.get("TRAINWELL_NO_APT"):
        return "TRAINWELL_NO_APT is set"
    if shutil.which("apt-get") is None:
        return "no apt-get on this machine"
    if os.geteuid() != 0:
        return "not root (apt-get install needs root)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with open("/tmp/trainwell-chromium-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if browser.find_chromium():
            return ""
        for step in ([APT], [["apt-get", "update"], APT]):
            ok = all(subprocess.run(cmd, env=env, capture_output=True, timeout=900).returncode == 0 for cmd in step)
            if ok and browser.find_chromium():
                return ""
    return "apt-get install chromium failed"


@pytest.fixture(scope="session")
def chromium() -> str:
    binary = browser.find_chromium()
    if binary is None:
        why = _install_chromium()
        binary = browser.find_chromium()
        if binary is None:
            pytest.skip(f"headless Chromium is not installed and could not be installed here ({why}); "
                        "install Debian's 'chromium' package to run this test")
    return binary


@pytest.fixture
def load_page(chromium):
    def load(path: Path, **kwargs):
        return browser.load_page(Path(path).resolve().as_uri(), binary=chromium, **kwargs)

    return load


@pytest.fixture(scope="session")
def classification_run(tmp_path_factory):
    """A finished `trainwell train` run (3 separable blobs, a small ConvNet, 40 steps) with per-layer
    statistics (StatsCallback every 10 steps) and the gradient norm logged; its report written."""
    import numpy as np

    from trainwell.assemble import train_recipe
    from trainwell.config import recipe_from_dict
    from trainwell.diagnostics import StatsCallback
    from trainwell.report.run_report import write_run_report

    folder = tmp_path_factory.mktemp("classification")
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 1, 12)) * 2
    y = rng.integers(0, 3, 240)
    np.savez(folder / "blobs.npz", x=(centers[y] + rng.normal(size=(240, 1, 12))).astype(np.float32), y=y)
    recipe = recipe_from_dict({
        "name": "blobs", "data": {"path": str(folder / "blobs.npz"), "val_fraction": 0.2, "preprocess": ["standardize"]},
        "model": {"name": "convnet", "channels": [8, 8], "kernel": 3, "head": "flatten"},
        "optim": {"name": "adamw", "lr": 0.01}, "schedule": {"name": "cosine", "warmup_fraction": 0.1},
        "train": {"steps": 40, "batch_size": 32, "eval_every": 20, "log_every": 10, "log_grad_norm": True}})
    out = folder / "run"
    train_recipe(recipe, out, progress=False, callbacks=[StatsCallback(every=10)])
    write_run_report(out)
    return out
