"""The fault-injection suite: bad inputs, faults and attacks against every command and file trainwell reads.

Every test here is marked `faults` (``pytest -m faults`` runs the suite) and its name says its kind:
``test_bad_*`` (bad input from a user: a torn recipe, a label out of range, --out below a file),
``test_fault_*`` (something broke: kill -9, Ctrl-C, a second writer, a full or read-only folder) or
``test_attack_*`` (someone tries: a pickle that would run code, a symlink out of the run directory,
a module path as a part name). The table in the README ("Faults and bad input") counts them.

What each case asserts (`refused`): exit status 2 (or the documented one), ONE paragraph on stderr
naming the file/field, no "Traceback" and no warning noise; where it applies, nothing the user had
is lost or changed (`tree`), and a resumed run equals the uninterrupted one.

Commands run in this process through `trainwell.cli.main` (`cli`), so a case costs milliseconds,
not a Python start-up; the few real kill -9 / Ctrl-C cases start `python -m trainwell` (`spawn`).
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("trainwell_faults_harness", Path(__file__).with_name("harness.py"))
harness = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = harness  # test modules: `from trainwell_faults_harness import cli, refused, ...`
_spec.loader.exec_module(harness)


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.faults)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    """blobs.npz and tiny.toml (40 steps, evaluation and checkpoint every 10, a one-dim search space)."""
    folder = tmp_path_factory.mktemp("faults-data")
    harness.write_blobs(folder / "blobs.npz")
    (folder / "tiny.toml").write_text(harness.RECIPE)
    return folder


@pytest.fixture(scope="session")
def recipe(data_dir) -> Path:
    return data_dir / "tiny.toml"


@pytest.fixture(scope="session")
def blobs(data_dir) -> Path:
    return data_dir / "blobs.npz"


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory, recipe) -> Path:
    """A finished run of tiny.toml with EMA weights (config.json, metrics.jsonl, last/best/final/ema.pt,
    summary.json, report.html) and a stats.jsonl; tests corrupt copies of it (`copy_run`)."""
    from trainwell.assemble import train_recipe
    from trainwell.config import load_recipe
    from trainwell.diagnostics.callback import StatsCallback

    out = tmp_path_factory.mktemp("faults-run") / "run"
    train_recipe(load_recipe(recipe, ["train.ema=0.9"]), out, progress=False, callbacks=[StatsCallback(every=10)])
    from trainwell.report.run_report import write_run_report

    write_run_report(out)
    return out


@pytest.fixture
def copy_run(finished_run, tmp_path):
    """A fresh copy of the finished run to damage: copy_run() -> Path."""
    import shutil

    def make(name: str = "run") -> Path:
        dst = tmp_path / name
        shutil.copytree(finished_run, dst, symlinks=True)
        (dst / ".lock").unlink(missing_ok=True)
        return dst

    return make
