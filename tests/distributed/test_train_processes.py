"""`trainwell train --nproc 2` (2 gloo processes) == `trainwell train` (1 process), killed runs resume.

With the global batch B the same, the 2 processes take the 2 halves of each single-process batch
and DistributedDataParallel averages their gradients, so the runs are the same computation up to
float rounding in the order of the sums: the train and validation losses of every log point must
agree to rtol 1e-5 (seen: ~1e-7) — for an MLP, and for a ConvNet with BatchNorm with
train.sync_batchnorm (statistics of the global batch).

A 2-process run SIGKILLed (its launcher's whole process group) after its first checkpoint must
resume — with 2 processes and, from a copy, with 1 — to the uninterrupted run's final losses and
test accuracy (rtol 1e-5): the checkpoint keeps the data position in the global permutation.
"""
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from trainwell.cli import main
from trainwell.train.checkpoint import load_checkpoint

pytestmark = pytest.mark.slow
RTOL = 1e-5


def launch(ddp, *args: str, timeout: float = 300) -> None:
    done = subprocess.run(ddp.train_cmd(*args), env=ddp.env(), capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]


def losses(ddp, run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    out = {}
    for split in ("train", "val"):
        by_step = {r["step"]: r["loss"] for r in ddp.records(run_dir, split)}  # a resumed run repeats some steps
        out[split] = sorted(by_step.items())
    return out


def assert_same_curves(a, b) -> None:
    for split in ("train", "val"):
        assert [s for s, _ in a[split]] == [s for s, _ in b[split]], split
        for (step, x), (_, y) in zip(a[split], b[split]):
            assert abs(x - y) <= RTOL * abs(y), (split, step, x, y)


def one_process(recipe: Path, out: Path, *sets: str) -> None:
    argv = ["train", "--recipe", str(recipe), "--out", str(out), "--quiet", "--no-report"]
    for s in sets:
        argv += ["--set", s]
    assert main(argv) == 0


@pytest.mark.parametrize("sets", [
    (),
    ('model={name = "convnet", channels = [8, 8], norm = "batch"}', "train.sync_batchnorm=true"),
], ids=["mlp", "convnet-syncbatchnorm"])
def test_two_processes_give_the_one_process_loss_curve(tiny_recipe, tmp_path, ddp, sets):
    one_process(tiny_recipe, tmp_path / "one", *sets)
    launch(ddp, "--recipe", str(tiny_recipe), "--out", str(tmp_path / "two"), "--nproc", "2",
           *[a for s in sets for a in ("--set", s)])
    summary = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert summary["processes"] == 2 and summary["steps"] == 60
    assert_same_curves(losses(ddp, tmp_path / "two"), losses(ddp, tmp_path / "one"))
    reference = json.loads((tmp_path / "one" / "summary.json").read_text())
    assert summary["test_accuracy"] == pytest.approx(reference["test_accuracy"], abs=1e-3)


def test_a_killed_run_resumes_with_two_processes_and_with_one(tiny_recipe, tmp_path, ddp):
    steps = "train.steps=400"  # long enough (seconds) to be killed mid-way after its first checkpoint
    one_process(tiny_recipe, tmp_path / "whole", steps)
    killed = tmp_path / "killed"
    launcher = subprocess.Popen(ddp.train_cmd("--recipe", str(tiny_recipe), "--out", str(killed), "--nproc", "2",
                                              "--set", steps), env=ddp.env(), start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while not (killed / "last.pt").exists() and launcher.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    os.killpg(launcher.pid, signal.SIGKILL)  # the launcher and its processes (they share its group)
    launcher.wait(timeout=60)
    assert not (killed / "summary.json").exists(), "the run ended before it was killed"
    assert 0 < load_checkpoint(killed).get("step") < 400
    time.sleep(1.0)
    shutil.copytree(killed, tmp_path / "killed-copy")
    whole = losses(ddp, tmp_path / "whole")
    reference = json.loads((tmp_path / "whole" / "summary.json").read_text())

    launch(ddp, "--resume", str(killed), "--nproc", "2")
    assert main(["train", "--resume", str(tmp_path / "killed-copy"), "--quiet", "--no-report"]) == 0
    for resumed in (killed, tmp_path / "killed-copy"):
        summary = json.loads((resumed / "summary.json").read_text())
        assert summary["resumed"] and summary["steps"] == 400
        got = losses(ddp, resumed)
        for split in ("train", "val"):
            (step, value), (ref_step, ref_value) = got[split][-1], whole[split][-1]
            assert step == ref_step == 400 and value == pytest.approx(ref_value, rel=RTOL), (resumed, split)
        assert summary["test_accuracy"] == pytest.approx(reference["test_accuracy"], abs=1e-3)
