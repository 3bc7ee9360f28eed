"""kill -9 of `python -m trainwell train` at seeded random moments, then `--resume`: the final weights
equal the uninterrupted run's (torch.equal, every tensor) and metrics.jsonl holds each step's records
exactly once, with the same numbers (timings aside)."""
from __future__ import annotations

import json
import random
import shutil

import pytest
import torch
from trainwell_faults_harness import cli, kill9, lines_of, ok, spawn, wait_for

STEPS, EVERY = 1500, 10  # a checkpoint (last.pt) at every evaluation, every 10 steps
SETS = [f"train.steps={STEPS}", f"train.eval_every={EVERY}", f"train.log_every={EVERY}"]
TIMINGS = ("steps_per_s", "examples_per_s", "seconds")


def _records(run) -> list[tuple]:
    out = []
    for line in (run / "metrics.jsonl").read_text().splitlines():
        rec = json.loads(line)
        out.append(tuple(sorted((k, v) for k, v in rec.items() if k not in TIMINGS)))
    return out


def _weights(run) -> dict[str, torch.Tensor]:
    return torch.load(run / "final.pt", map_location="cpu", weights_only=False)["model"]


@pytest.fixture(scope="module")
def uninterrupted(recipe, tmp_path_factory):
    out = tmp_path_factory.mktemp("kill-ref") / "run"
    sets = [a for s in SETS for a in ("--set", s)]
    ok(cli("train", "--recipe", recipe, *sets, "--out", out, "--quiet", "--no-report"))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fault_kill9_train_then_resume_equals_uninterrupted(seed, recipe, uninterrupted, tmp_path):
    """SIGKILL after a seeded number of metrics lines (mid-run, between or during checkpoint writes)."""
    shutil.copy(recipe.parent / "blobs.npz", tmp_path / "blobs.npz")
    shutil.copy(recipe, tmp_path / "tiny.toml")
    run = tmp_path / "run"
    sets = [a for s in SETS for a in ("--set", s)]
    after = random.Random(seed).randint(6, STEPS // EVERY)  # 2 lines (train, val) per 10 steps: first half
    proc = spawn(["train", "--recipe", "tiny.toml", *sets, "--out", run, "--quiet", "--no-report"], tmp_path,
                 tmp_path / "log.txt")
    wait_for(lambda: lines_of(run / "metrics.jsonl") >= after, proc, what=f"{after} metrics lines")
    kill9(proc)
    assert not (run / "final.pt").exists(), "killed after the end: pick an earlier moment"
    ok(cli("train", "--resume", run, "--quiet", "--no-report"))

    records, reference = _records(run), _records(uninterrupted)
    assert len(records) == len(set(records)), "a record written twice"
    assert records == reference, "records lost, duplicated or different after kill -9 + resume"
    mine, ref = _weights(run), _weights(uninterrupted)
    assert mine.keys() == ref.keys() and all(torch.equal(mine[k], ref[k]) for k in ref)
