"""kill -9 of `python -m trainwell train` at seeded random moments, then `--resume`: the final weights
equal the uninterrupted run's (torch.equal, every tensor) and metrics.jsonl holds each step's records
exactly once, with the same numbers (timings aside)."""
from __future__ import annotations

import json
import random
import shutil

import pytest
import torch
from trainwell_faults_harness import cli, kill9, lines_of, ok, refused, spawn, wait_for

STEPS, EVERY = 1500, 10  # a checkpoint (last.pt) at every evaluation, every 10 steps
# checkpoint_seconds=0: a checkpoint at every evaluation (not every 10 s), so kills land between many
SETS = [f"train.steps={STEPS}", f"train.eval_every={EVERY}", f"train.log_every={EVERY}", "train.checkpoint_seconds=0"]
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


def _members(folder) -> list[dict[str, torch.Tensor]]:
    return torch.load(folder / "ensemble.pt", map_location="cpu", weights_only=True)["members"]


ENSEMBLE = ["ensemble", "--recipe", "RECIPE", "--members", "3", "--engine", "one_by_one", "--quiet",
            "--set", f"train.steps={STEPS // 3}", "--set", f"train.eval_every={EVERY}", "--set", "train.checkpoint_seconds=0"]


def test_fault_kill9_ensemble_then_resume_equals_uninterrupted(recipe, tmp_path):
    """SIGKILL while the second member trains (the first finished, the second checkpointed), then
    `trainwell ensemble --resume OUT`: every member's weights equal the uninterrupted ensemble's."""
    shutil.copy(recipe.parent / "blobs.npz", tmp_path / "blobs.npz")
    shutil.copy(recipe, tmp_path / "tiny.toml")
    argv = [str(tmp_path / "tiny.toml") if a == "RECIPE" else a for a in ENSEMBLE]
    ok(cli(*argv, "--out", tmp_path / "ref"))
    out = tmp_path / "ens"
    proc = spawn([*argv, "--out", out], tmp_path, tmp_path / "log.txt")
    second = out / "member-1"
    wait_for(lambda: (out / "member-0" / "final.pt").exists() and lines_of(second / "metrics.jsonl") >= 6, proc,
             what="the first member finished and the second checkpointed")
    kill9(proc)
    assert not (out / "ensemble.pt").exists(), "killed after the end: pick an earlier moment"
    refused(cli("ensemble", "--resume", out, "--recipe", "default"), "--resume")  # its own recipe only
    first = (out / "member-0" / "final.pt").stat().st_mtime_ns
    ok(cli("ensemble", "--resume", out, "--quiet"))
    assert (out / "member-0" / "final.pt").stat().st_mtime_ns == first, "a finished member was trained again"
    records = _records(second)  # continued from its checkpoint: each record once, as in the reference
    assert len(records) == len(set(records)) and records == _records(tmp_path / "ref" / "member-1")
    mine, ref = _members(out), _members(tmp_path / "ref")
    assert len(mine) == len(ref) == 3
    for a, b in zip(mine, ref):
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in b)
    refused(cli("ensemble", "--resume", out), "finished ensemble")
