"""Rules every logger keeps: no per-step event, exact install hints, recipe keys checked, folders."""
from __future__ import annotations

import sys

import pytest
from torch import nn

import trainwell
from trainwell.cli import main
from trainwell.config import recipe_from_dict
from trainwell.errors import UserError
from trainwell.train.callbacks import Dispatcher
from trainwell.train.loggers import CSVLogger, MLflowLogger, TensorBoardLogger, loggers_for

PER_STEP = ("on_epoch_start", "on_batch_start", "on_after_backward", "on_batch_end", "on_epoch_end")


@pytest.mark.parametrize("make", [lambda d: TensorBoardLogger(d), lambda d: CSVLogger(d), lambda d: MLflowLogger(dir=d)],
                         ids=["tensorboard", "csv", "mlflow"])
def test_loggers_have_no_per_step_event(make, tmp_path):
    """The trainer calls only the events a callback overrides: a logger adds no work to a step."""
    dispatch = Dispatcher([make(tmp_path)])
    assert [e for e in PER_STEP if dispatch.has(e)] == []
    assert all(dispatch.has(e) for e in ("on_fit_start", "on_log", "on_eval_end", "on_fit_end"))


@pytest.mark.parametrize("module, extra, make", [
    ("tensorboard", "tensorboard", lambda: TensorBoardLogger("x")),
    ("mlflow", "mlflow", lambda: MLflowLogger()),
])
def test_a_missing_extra_names_the_pip_command(monkeypatch, module, extra, make):
    monkeypatch.setitem(sys.modules, module, None)  # as if the package were not installed
    with pytest.raises(UserError, match=rf"pip install 'trainwell\[{extra}\]'"):
        make()


def test_recipe_with_a_missing_extra_stops_before_training(monkeypatch, tmp_path, blobs, capsys):
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'name = "t"\n[data]\npath = "{blobs}"\n[model]\nname = "mlp"\n[train]\nsteps = 5\n'
                      "[log]\ntensorboard = true\n")
    out = tmp_path / "run"
    assert main(["train", "--recipe", str(recipe), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'trainwell[tensorboard]'" in err and "Traceback" not in err
    assert not (out / "config.json").exists() and not (out / "metrics.jsonl").exists()


def test_log_keys_are_checked():
    with pytest.raises(UserError, match=r"unknown key 'log.tensorbord' \(did you mean \"tensorboard\"\?\)"):
        recipe_from_dict({"log": {"tensorbord": True}})
    with pytest.raises(UserError, match="log.histograms_every"):
        recipe_from_dict({"log": {"histograms_every": -1}})
    log = recipe_from_dict({"log": {"csv": True, "mlflow": True, "mlflow_uri": "sqlite:///x.db"}}).log
    made = loggers_for(log, params={"a": 1}, experiment="exp")
    assert [type(m).__name__ for m in made] == ["CSVLogger", "MLflowLogger"]
    assert made[1].uri == "sqlite:///x.db" and made[1].experiment == "exp" and made[1].params == {"a": 1}


def test_folders(tmp_path, regression, monkeypatch):
    train, val = regression
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match=r"CSVLogger has no folder to write to"):
        trainwell.fit(nn.Linear(4, 1), train, val, steps=5, progress=False, verbose=False, callbacks=[CSVLogger()])
    # a recipe's loggers log runs that have a run directory, and stay silent in the others
    quiet = [TensorBoardLogger(only_with_run_dir=True), CSVLogger(only_with_run_dir=True)]
    trainwell.fit(nn.Linear(4, 1), train, val, steps=5, progress=False, verbose=False, callbacks=quiet)
    assert list(tmp_path.iterdir()) == []
    trainwell.fit(nn.Linear(4, 1), train, val, steps=5, progress=False, verbose=False, run_dir=tmp_path / "r",
                  callbacks=[TensorBoardLogger(only_with_run_dir=True), CSVLogger(only_with_run_dir=True)])
    assert (tmp_path / "r" / "metrics.csv").exists() and any((tmp_path / "r" / "tensorboard").iterdir())


def test_a_diverged_run_keeps_logging_scalars(tmp_path, regression):
    """NaN weights cannot be binned: histograms stop with a warning, the NaN loss is still logged."""
    train, val = regression
    logger = CSVLogger(tmp_path)
    tb = TensorBoardLogger(tmp_path / "tb", histograms_every=1)
    with pytest.warns(UserWarning, match="no weight histograms"):
        fitted = trainwell.fit(nn.Linear(4, 1), (train[0] * 1e20, train[1]), val, steps=20, lr=10.0, optimizer="sgd",
                               log_every=1, progress=False, verbose=False, callbacks=[logger, tb])
    assert fitted.summary["status"] == "diverged"
    last = (tmp_path / "metrics.csv").read_text().splitlines()[-1].split(",")
    assert last[2] == "train" and last[3] in ("nan", "inf")   # the loss that stopped the run
