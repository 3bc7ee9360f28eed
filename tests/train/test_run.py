import json
import os
import signal

import numpy as np
import pytest

from trainwell.cli import main
from trainwell.config import recipe_from_dict
from trainwell.assemble import train_recipe as run_recipe


@pytest.fixture
def npz(tmp_path):
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 1, 12)) * 2
    y = rng.integers(0, 3, 300)
    x = (centers[y] + rng.normal(size=(300, 1, 12))).astype(np.float32)
    path = tmp_path / "blobs.npz"
    np.savez(path, x=x, y=y)
    return path


def tiny(npz, **train):
    return {
        "name": "tiny",
        "data": {"path": str(npz), "val_fraction": 0.2, "preprocess": ["standardize"]},
        "model": {"name": "convnet", "channels": [8, 8], "kernel": 3, "head": "flatten"},
        "optim": {"name": "adamw", "lr": 0.01},
        "schedule": {"name": "cosine", "warmup_fraction": 0.1},
        "train": {"steps": 60, "batch_size": 32, "eval_every": 20, **train},
    }


def test_run_writes_summary_checkpoints_and_report(tmp_path, npz):
    out = tmp_path / "run"
    summary = run_recipe(recipe_from_dict(tiny(npz)), out, progress=False)
    assert summary["status"] == "done" and summary["steps"] == 60
    assert 0.9 <= summary["test_accuracy"] <= 1.0  # well separated blobs
    saved = json.loads((out / "summary.json").read_text())
    for key in ("test_accuracy", "val_accuracy", "train_seconds", "steps", "seed", "recipe"):
        assert key in saved
    assert (out / "last.pt").exists() and (out / "best.pt").exists() and (out / "final.pt").exists()
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert {json.loads(l)["split"] for l in lines} == {"train", "val"}


def test_refuses_to_overwrite_a_run(tmp_path, npz):
    out = tmp_path / "run"
    run_recipe(recipe_from_dict(tiny(npz, steps=20)), out, progress=False)
    from trainwell.errors import UserError

    with pytest.raises(UserError, match="--resume"):
        run_recipe(recipe_from_dict(tiny(npz, steps=20)), out, progress=False)


def test_cli_train_and_user_errors(tmp_path, npz, capsys):
    recipe = tmp_path / "r.toml"
    recipe.write_text(
        f'name = "tiny"\n[data]\npath = "{npz}"\n[model]\nname = "mlp"\nwidths = [16]\n'
        '[train]\nsteps = 30\nbatch_size = 32\n'
    )
    out = tmp_path / "cli"
    assert main(["train", "--recipe", str(recipe), "--out", str(out), "--quiet", "--seed", "3"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 3 and 0.0 <= summary["test_accuracy"] <= 1.0
    assert (out / "report.html").exists() and (out / "loss.png").exists()
    capsys.readouterr()
    assert main(["train", "--recipe", str(recipe), "--set", "optim.lrr=1", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "optim.lrr" in err and 'did you mean "lr"' in err and "Traceback" not in err
    assert main(["train", "--recipe", str(recipe), "--set", "model.activation=relux", "--out", str(tmp_path / "y")]) == 2
    assert 'did you mean "relu"' in capsys.readouterr().err
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.full((10, 3), np.nan), y=np.zeros(10, int))
    assert main(["train", "--recipe", str(recipe), "--set", f'data.path="{bad}"', "--out", str(tmp_path / "z")]) == 2
    assert "NaN" in capsys.readouterr().err


@pytest.fixture
def python_sigint():
    """Python's own SIGINT handler while the test runs (a pytest-xdist worker may ignore SIGINT)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_cli_resume_reaches_the_same_result(tmp_path, npz, python_sigint):
    recipe = recipe_from_dict(tiny(npz))
    full = run_recipe(recipe, tmp_path / "full", progress=False)
    # Ctrl-C at step 31 (a real SIGINT): the step finishes, last.pt is written for step 31, the run stops
    import os
    import signal

    from trainwell.train import Callback

    class CtrlC(Callback):
        def on_batch_start(self, state):
            if state.step == 30:  # during the 31st step
                os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt, match="after step 31"):
        run_recipe(recipe, tmp_path / "killed", progress=False, callbacks=[CtrlC()])
    import torch

    assert torch.load(tmp_path / "killed" / "last.pt", weights_only=True)["step"] == 31
    assert main(["train", "--resume", str(tmp_path / "killed"), "--quiet", "--no-report"]) == 0
    resumed = json.loads((tmp_path / "killed" / "summary.json").read_text())
    assert resumed["resumed"] and resumed["steps"] == 60
    assert resumed["test_accuracy"] == full["test_accuracy"]
    assert resumed["val_accuracy"] == full["val_accuracy"]
    import torch

    a = torch.load(tmp_path / "full" / "final.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "killed" / "final.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_cli_report_rewrites_html_and_rejects_non_runs(tmp_path, npz, capsys):
    out = tmp_path / "run"
    run_recipe(recipe_from_dict(tiny(npz)), out, progress=False)
    assert main(["report", str(out)]) == 0
    html = (out / "report.html").read_text()
    assert "loss.png" in html and "accuracy.png" in html and "lr.png" in html
    assert main(["report", str(tmp_path)]) == 2
    assert "not a trainwell run directory" in capsys.readouterr().err


def test_swa_from_a_recipe_key_matches_the_ensemble_command_and_survives_a_resume(python_sigint, tmp_path, npz):
    """train.swa = 0.5: the summary scores the SWA weights (BatchNorm statistics recomputed) exactly
    as `trainwell ensemble --method swa` does, and a killed-and-resumed run averages the same steps."""
    from trainwell.ensemble.averaging import train_averaged
    from trainwell.train import Callback

    raw = tiny(npz, swa=0.5)
    raw["model"]["norm"] = "batch"
    recipe = recipe_from_dict(raw)
    full = run_recipe(recipe, tmp_path / "full", progress=False)
    assert 0.0 <= full["test_accuracy_swa"] <= 1.0 and 0.0 <= full["val_accuracy_swa"] <= 1.0
    plain = dict(raw, train={k: v for k, v in raw["train"].items() if k != "swa"})
    direct = train_averaged(recipe_from_dict(plain), "swa", start_fraction=0.5)
    assert direct["averaged"]["test_accuracy"] == full["test_accuracy_swa"]

    class Kill(Callback):
        def on_batch_start(self, state):
            if state.step == 44:  # Ctrl-C in step 45: after SWA started (step 30), before the run's end
                os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        run_recipe(recipe, tmp_path / "killed", progress=False, callbacks=[Kill()])
    assert main(["train", "--resume", str(tmp_path / "killed"), "--quiet", "--no-report"]) == 0
    resumed = json.loads((tmp_path / "killed" / "summary.json").read_text())
    assert resumed["test_accuracy_swa"] == full["test_accuracy_swa"]
    assert resumed["val_accuracy_swa"] == full["val_accuracy_swa"]
