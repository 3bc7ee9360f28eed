"""The files of a run directory, damaged and planted: config.json, last.pt, best/final/ema.pt,
metrics.jsonl, stats.jsonl, summary.json — read by train --resume, predict, evaluate and report."""
from __future__ import annotations

import json
import os
import pickle
import shutil

import numpy as np
import pytest
import torch
from trainwell_faults_harness import cli, ok, refused, tree

MARK = "/tmp/trainwell-faults-pwned"  # what a malicious file would create if its code ran


class RunsCode:
    """A pickle of this runs `touch MARK` when loaded by a plain unpickler."""

    def __reduce__(self):
        return (os.system, (f"touch {MARK}",))


def _halve(p):
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _state(p):
    return torch.load(p, weights_only=True)


def _save_changed(p, change):
    state = _state(p)
    change(state)
    torch.save(state, p)


def _first_tensor_wrong(state):
    key = next(iter(state["model"]))
    state["model"][key] = torch.zeros(2, 2)


def _link_out(p):
    p.unlink()
    p.symlink_to("/etc/passwd")


def _to_folder(p):
    p.unlink()
    p.mkdir()


def _fifo(p):
    p.unlink()
    os.mkfifo(p)


PT_DAMAGE = {
    "empty": lambda p: p.write_bytes(b""),
    "truncated": _halve,
    "binary": lambda p: p.write_bytes(os.urandom(3000)),
    "foreign_npz": lambda p: np.savez(open(p, "wb"), x=np.zeros(3)),
    "foreign_json": lambda p: p.write_text('{"model": {}}'),
    "a_list": lambda p: torch.save([1, 2, 3], p),
    "no_model_entry": lambda p: torch.save({"weights": {}}, p),
    "wrong_shape": lambda p: _save_changed(p, _first_tensor_wrong),
    "a_folder": _to_folder,
    "a_fifo": _fifo,
}
PT_ATTACK = {
    "pickle_runs_code": lambda p: p.write_bytes(pickle.dumps(RunsCode())),
    "torch_save_of_code": lambda p: torch.save({"model": RunsCode()}, p),
    "link_outside": _link_out,
}


@pytest.fixture(autouse=True)
def no_mark():
    if os.path.exists(MARK):
        os.unlink(MARK)
    yield
    assert not os.path.exists(MARK), "a loaded file ran code"


# ------------------------------------------------------------------------------------ last.pt
LAST_EXTRA = {
    "only_the_model": lambda p: _save_changed(p, lambda s: [s.pop(k) for k in list(s) if k != "model"]),
    "wrong_types": lambda p: _save_changed(p, lambda s: s.update({k: "garbage" for k in s if k != "model"})),
    "other_optimizer": lambda p: _save_changed(p, lambda s: s.update(optimizer={"state": {}, "param_groups": [{"params": [0]}]})),
    "other_run_length": lambda p: _save_changed(p, lambda s: s.update(total_steps=7)),
    "rng_not_tensors": lambda p: _save_changed(p, lambda s: s["rng"].update(augment=[1, 2])),
}


@pytest.mark.parametrize("kind", sorted({**PT_DAMAGE, **LAST_EXTRA}))
def test_bad_last_pt_damaged(kind, copy_run):
    run = copy_run()
    {**PT_DAMAGE, **LAST_EXTRA}[kind](run / "last.pt")
    before = tree(run)
    refused(cli("train", "--resume", run, "--quiet", "--no-report"), ("last.pt", "checkpoint"))
    assert tree(run) == before  # a refused resume changes nothing


@pytest.mark.parametrize("kind", sorted(PT_ATTACK))
def test_attack_last_pt(kind, copy_run):
    run = copy_run()
    PT_ATTACK[kind](run / "last.pt")
    before = tree(run)
    refused(cli("train", "--resume", run, "--quiet", "--no-report"), "last.pt")
    assert tree(run) == before


def test_bad_resume_without_last_pt(copy_run):
    run = copy_run()
    (run / "last.pt").unlink()
    refused(cli("train", "--resume", run, "--quiet"), "last.pt")


def test_bad_resume_of_a_folder_that_is_no_run(tmp_path):
    refused(cli("train", "--resume", tmp_path, "--quiet"), str(tmp_path), "config.json")


# ------------------------------------------------------------------------------------ weights files
@pytest.mark.parametrize("kind", sorted({**PT_DAMAGE, **PT_ATTACK}))
def test_bad_best_pt_for_predict(kind, copy_run, blobs):
    run = copy_run()
    {**PT_DAMAGE, **PT_ATTACK}[kind](run / "best.pt")
    before = tree(run)
    refused(cli("predict", run, "--input", blobs, "--out", run / "p.csv"), "best.pt")
    assert tree(run) == before


@pytest.mark.parametrize("which", ["final", "ema"])
@pytest.mark.parametrize("kind", ["truncated", "pickle_runs_code", "wrong_shape"])
def test_bad_weights_for_evaluate(which, kind, copy_run, blobs):
    run = copy_run()
    {**PT_DAMAGE, **PT_ATTACK}[kind](run / f"{which}.pt")
    refused(cli("evaluate", run, "--weights", which, "--data", blobs), f"{which}.pt")
    assert not (run / "evaluation.json").exists()


def test_bad_weights_name(copy_run, blobs):
    run = copy_run()
    refused(cli("predict", run, "--input", blobs, "--weights", "bset"), "--weights", "bset")


def test_bad_weights_missing(copy_run, blobs):
    run = copy_run()
    (run / "ema.pt").unlink()
    refused(cli("evaluate", run, "--weights", "ema", "--data", blobs), "ema.pt")


def test_bad_weights_config_of_another_architecture(copy_run, blobs):
    run = copy_run()
    _save_changed(run / "best.pt", lambda s: s["config"]["model"].update(widths=[64, 64]))
    refused(cli("predict", run, "--input", blobs), "best.pt", "does not fit")


def test_attack_weights_config_names_a_module(copy_run, blobs):
    run = copy_run()
    _save_changed(run / "best.pt", lambda s: s["config"]["model"].update(name="os.system"))
    refused(cli("predict", run, "--input", blobs), "unknown model 'os.system'")


# ------------------------------------------------------------------------------------ config.json
CONFIG_DAMAGE = {
    "empty": lambda p: p.write_text(""),
    "torn": lambda p: p.write_text(p.read_text()[:-40]),
    "binary": lambda p: p.write_bytes(os.urandom(500)),
    "foreign_pt": lambda p: shutil.copy(p.parent / "best.pt", p),
    "a_list": lambda p: p.write_text("[1, 2]"),
    "unknown_keys": lambda p: p.write_text(json.dumps({"step": 3, "optim": {"lrr": 1}})),
    "a_folder": _to_folder,
}


@pytest.mark.parametrize("kind", sorted(CONFIG_DAMAGE))
def test_bad_config_json_for_resume(kind, copy_run):
    run = copy_run()
    CONFIG_DAMAGE[kind](run / "config.json")
    before = tree(run)
    refused(cli("train", "--resume", run, "--quiet", "--no-report"), "config.json")
    assert tree(run) == before


def test_attack_config_json_points_the_data_at_a_device(copy_run):
    run = copy_run()
    raw = json.loads((run / "config.json").read_text())
    raw["data"]["path"] = "/dev/zero"
    raw["data"]["name"] = "npz"
    (run / "config.json").write_text(json.dumps(raw))
    refused(cli("train", "--resume", run, "--quiet", "--no-report"), "/dev/zero", "not a regular file")


def test_attack_config_json_is_a_link_outside(copy_run):
    run = copy_run()
    _link_out(run / "config.json")
    refused(cli("train", "--resume", run, "--quiet", "--no-report"), "config.json")


# ------------------------------------------------------------------------------------ records
RECORD_DAMAGE = {
    "binary": lambda p: p.write_bytes(os.urandom(2000)),
    "nul_bytes": lambda p: p.write_bytes(b"\0" * 300),
    "foreign_pt": lambda p: shutil.copy(p.parent / "best.pt", p),
    "a_list_line": lambda p: p.write_text("[1, 2, 3]\n"),
    "no_step": lambda p: p.write_text('{"split": "train", "loss": 1.0}\n'),
    "text_step": lambda p: p.write_text('{"split": "train", "step": "ten", "loss": 1.0}\n'),
    "corrupt_middle": lambda p: p.write_text(p.read_text().replace("\n", "\nnot json\n", 1)),
    "link_to_device": lambda p: (p.unlink(), p.symlink_to("/dev/zero")),
    "a_fifo": _fifo,
}


@pytest.mark.parametrize("kind", sorted(RECORD_DAMAGE))
@pytest.mark.parametrize("stream", ["metrics.jsonl", "stats.jsonl"])
def test_bad_records_for_report(stream, kind, copy_run):
    run = copy_run()
    RECORD_DAMAGE[kind](run / stream)
    before = tree(run)
    refused(cli("report", run), stream)
    assert tree(run) == before  # report.html is not replaced by a page of a damaged run


@pytest.mark.parametrize("stream", ["metrics.jsonl", "stats.jsonl"])
def test_fault_torn_last_record_still_reports(stream, copy_run):
    """A kill mid-append leaves a torn last line: the report skips it (and only it)."""
    run = copy_run()
    with open(run / stream, "ab") as f:
        f.write(b'{"split": "train", "step": 99, "lo')
    ok(cli("report", run))


@pytest.mark.parametrize("kind", ["empty", "torn", "binary", "a_list"])
def test_bad_summary_json_for_report(kind, copy_run):
    run = copy_run()
    path = run / "summary.json"
    {"empty": lambda: path.write_text(""), "torn": lambda: path.write_text(path.read_text()[:-30]),
     "binary": lambda: path.write_bytes(os.urandom(400)), "a_list": lambda: path.write_text("[]")}[kind]()
    refused(cli("report", run), "summary.json")


# ------------------------------------------------------------------------------------ writes through links
@pytest.mark.parametrize("name", [".lock", "metrics.jsonl", "last.pt", "summary.json", "report.html"])
def test_attack_a_link_in_the_run_directory_never_writes_outside(name, copy_run, tmp_path):
    """A link planted in a run directory pointing at someone's file: resuming (which rewrites the
    lock, appends to metrics.jsonl and replaces last.pt, summary.json, report.html) must never
    truncate, append to or replace the target. Files are replaced by rename (the link goes, the
    target stays); files opened in place refuse a link."""
    run = copy_run()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    target = run / name
    if name == "last.pt":
        shutil.copy(target, tmp_path / "real_last.pt")
        victim = tmp_path / "real_last.pt"
    before = victim.read_bytes()
    target.unlink(missing_ok=True)
    target.symlink_to(victim)
    res = cli("train", "--resume", run, "--quiet")
    assert victim.read_bytes() == before
    if name in (".lock", "metrics.jsonl"):
        refused(res, name, "symbolic link")
    else:
        ok(res)
        assert not target.is_symlink()
