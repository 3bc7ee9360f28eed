"""A run directory loses nothing: validation before deletion, a lock, atomic files, safe names, clean resumes."""
import json

import numpy as np
import pytest
import torch

from trainwell.assemble import train_recipe
from trainwell.assemble.rundir import new_run_dir, safe_name
from trainwell.cli import main
from trainwell.config import recipe_from_dict
from trainwell.errors import UserError
from trainwell.io import RunLock


@pytest.fixture
def npz(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 240)
    x = (rng.normal(size=(3, 10))[y] * 2 + rng.normal(size=(240, 10))).astype(np.float32)
    path = tmp_path / "blobs.npz"
    np.savez(path, x=x, y=y)
    return path


def raw(npz, **train):
    return {"name": "tiny", "data": {"path": str(npz), "preprocess": ["standardize"]},
            "model": {"name": "mlp", "widths": [16]}, "optim": {"lr": 0.01},
            "train": {"steps": 20, "batch_size": 32, "eval_every": 10, **train}}


def test_a_recipe_name_cannot_leave_the_runs_folder(tmp_path, npz):
    r = recipe_from_dict({**raw(npz), "name": "../../escape"})
    s = train_recipe(r, runs_root=tmp_path / "runs", progress=False)
    run_dir = tmp_path / "runs" / "escape"
    assert s["run_dir"] == str(run_dir) and (run_dir / "summary.json").exists()
    assert safe_name("a/b c") == "a-b-c" and safe_name("..") == "run"
    assert new_run_dir(tmp_path / "runs", "escape").name == "escape-2"


def test_overwrite_with_a_bad_recipe_keeps_the_old_run(tmp_path, npz, capsys):
    out = tmp_path / "run"
    train_recipe(recipe_from_dict(raw(npz)), out, progress=False)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    bad = raw(npz)
    bad["model"]["activation"] = "relux"
    with pytest.raises(UserError, match="relux"):
        train_recipe(recipe_from_dict(bad), out, overwrite=True, progress=False)
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and p.name != ".lock"}
    assert {k: v for k, v in before.items() if k != ".lock"} == after  # nothing deleted or rewritten


def test_output_folder_problems_are_clear_errors(tmp_path, npz, capsys, read_only):
    afile = tmp_path / "afile"
    afile.write_text("x")
    for out in (afile, afile / "below"):
        code = main(["train", "--recipe", "default", "--set", f'data.path="{npz}"', "--set", "data.name=\"x\"",
                     "--set", "train.steps=2", "--out", str(out), "--quiet"])
        err = capsys.readouterr().err
        assert code == 2 and "Traceback" not in err and "file" in err, err
    with read_only(tmp_path / "ro") as ro:  # mode 0555, or chattr +i for root (whom modes do not stop)
        with pytest.raises(UserError, match="not writable|permission"):
            train_recipe(recipe_from_dict(raw(npz)), ro / "run", progress=False)


def test_a_second_writer_of_one_run_directory_is_refused(tmp_path):
    with RunLock(tmp_path / "run"):
        with pytest.raises(UserError, match="in use by pid"):
            RunLock(tmp_path / "run").acquire()
    with RunLock(tmp_path / "run"):  # released: free again
        pass


def test_damaged_run_files_are_clear_errors_and_stale_temp_files_go(tmp_path, npz, capsys):
    out = tmp_path / "run"
    train_recipe(recipe_from_dict(raw(npz)), out, progress=False)
    (out / ".last.pt.abc123.tmp").write_bytes(b"half a checkpoint")  # a kill mid-write
    (out / "last.pt").write_bytes(b"")
    assert main(["train", "--resume", str(out), "--quiet"]) == 2
    assert "last.pt" in capsys.readouterr().err
    assert not (out / ".last.pt.abc123.tmp").exists()
    (out / "config.json").write_bytes(b"\x89PNG\x00\xff binary")
    assert main(["train", "--resume", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "config.json" in err and "Traceback" not in err


def test_resuming_a_finished_run_gives_the_same_summary_without_nan(tmp_path, npz):
    out = tmp_path / "run"
    first = train_recipe(recipe_from_dict(raw(npz)), out, progress=False)
    again = train_recipe(recipe_from_dict(raw(npz)), out, resume=True, progress=False)
    for key in ("test_accuracy", "val_accuracy", "train_loss", "val_loss"):
        assert again[key] == first[key] and again[key] is not None, key
    text = (out / "summary.json").read_text()
    assert "NaN" not in text


def test_no_validation_split_writes_null_not_nan_and_tests_the_final_weights(tmp_path, npz):
    s = train_recipe(recipe_from_dict(raw(npz), overrides=["data.val_fraction=0"]), tmp_path / "run", progress=False)
    saved = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert saved["val_accuracy"] is None and 0 <= saved["test_accuracy"] <= 1
    assert saved["test_weights"].startswith("final") and s["status"] == "done"


def test_weights_files_are_weights_only_and_the_summary_names_the_test_weights(tmp_path, npz):
    out = tmp_path / "run"
    s = train_recipe(recipe_from_dict(raw(npz, ema=0.9)), out, progress=False)
    for name in ("best", "final", "ema"):
        payload = torch.load(out / f"{name}.pt", weights_only=True)
        assert payload["format"] == "trainwell-model-1" and payload["which"] == name
        assert "optimizer" not in payload and payload["num_classes"] == 3
    assert s["test_weights"].startswith("best (validation val_accuracy at step")
    ema = train_recipe(recipe_from_dict(raw(npz, ema=0.9, test_weights="ema")), tmp_path / "e", progress=False)
    assert ema["test_weights"].startswith("ema") and ema["test_accuracy"] == ema["test_accuracy_ema"]


def test_a_huge_seed_is_a_clear_error(capsys):
    assert main(["train", "--seed", str(2 ** 70), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "seed: Input should be less than or equal to" in err and "Traceback" not in err, err
