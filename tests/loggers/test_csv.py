"""CSVLogger: the expected header and one row per record, equal to metrics.jsonl; resume; new columns."""
from __future__ import annotations

import csv

import pytest
import torch
from torch import nn

import trainwell
from trainwell.io import read_jsonl
from trainwell.train.callbacks import Callback
from trainwell.train.loggers import CSVLogger


def read_csv(path):
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        return reader.fieldnames, list(reader)


def as_record(row):
    return {k: (v if k == "split" else float(v)) for k, v in row.items() if v != ""}


def test_rows_are_the_records_in_full_precision(tmp_path, regression):
    train, val = regression
    run = tmp_path / "run"
    trainwell.fit(nn.Linear(4, 1), train, val, steps=20, batch_size=32, log_every=5, eval_every=10, progress=False,
                  verbose=False, run_dir=run, callbacks=[CSVLogger()])
    header, rows = read_csv(run / "metrics.csv")
    assert header == ["step", "epoch", "split", "loss", "mse", "rmse", "mae", "r2", "lr", "steps_per_s", "examples_per_s"]
    records = read_jsonl(run / "metrics.jsonl")
    assert [r["split"] for r in records] == ["train", "train", "val", "train", "train", "val"]
    assert [as_record(r) for r in rows] == records  # every number read back exactly (repr)


class Stop(Callback):
    order = 90

    def __init__(self, step):
        self.step = step

    def on_log(self, state, record):
        if state.step == self.step:
            raise KeyboardInterrupt  # killed after logging this step


def test_a_resumed_run_keeps_the_rows_up_to_its_checkpoint(tmp_path, blobs):
    import numpy as np

    data = np.load(blobs)
    x, y = torch.from_numpy(data["x"]), torch.from_numpy(data["y"])
    run = tmp_path / "run"
    kwargs = dict(steps=30, batch_size=32, log_every=5, eval_every=10, log_grad_norm=True, progress=False, verbose=False,
                  run_dir=run, checkpoint_seconds=0)  # a checkpoint at every evaluation, as the kill assumes
    with pytest.raises(KeyboardInterrupt):
        trainwell.fit(nn.Sequential(nn.Flatten(), nn.Linear(12, 3)), (x[:200], y[:200]), (x[200:], y[200:]),
                      callbacks=[CSVLogger(), Stop(15)], **kwargs)
    _, rows = read_csv(run / "metrics.csv")
    assert [(r["step"], r["split"]) for r in rows][-2:] == [("10", "val"), ("15", "train")]  # 15: after the checkpoint
    trainwell.fit(nn.Sequential(nn.Flatten(), nn.Linear(12, 3)), (x[:200], y[:200]), (x[200:], y[200:]),
                  callbacks=[CSVLogger()], resume=run / "last.pt", **kwargs)
    header, rows = read_csv(run / "metrics.csv")
    assert header == ["step", "epoch", "split", "loss", "accuracy", "lr", "steps_per_s", "examples_per_s", "grad_norm"]
    assert [(int(r["step"]), r["split"]) for r in rows] == [(5, "train"), (10, "train"), (10, "val"), (15, "train"),
                                                             (20, "train"), (20, "val"), (25, "train"), (30, "train"),
                                                             (30, "val")]
    last = {(r["step"], r["split"]): r for r in read_jsonl(run / "metrics.jsonl")}   # the resumed run's records win
    assert [as_record(r) for r in rows] == [last[(int(r["step"]), r["split"])] for r in rows]


def test_new_keys_widen_the_header_figures_before_per_layer_columns(tmp_path):
    from trainwell.train.state import TrainState

    logger = CSVLogger(tmp_path)
    state = TrainState(model=nn.Linear(1, 1), optimizer=None, total_steps=10, device=torch.device("cpu"))
    logger.on_fit_start(state)
    logger.write("stats", 0, 0, {"act_std/0-Linear": 0.5})            # a per-layer row first
    logger.on_log(state, {"split": "train", "step": 1, "epoch": 0.1, "loss": 1.0, "lr": 0.1})
    logger.on_eval_end(state, {"split": "val", "step": 1, "epoch": 0.1, "loss": 2.0, "top5": 0.5})
    logger.on_eval_end(state, {"split": "val", "step": 2, "epoch": 0.2})  # no validation data: no row
    logger.on_fit_end(state)
    header, rows = read_csv(tmp_path / "metrics.csv")
    assert header == ["step", "epoch", "split", "loss", "lr", "top5", "act_std/0-Linear"]   # figures first
    assert rows == [
        {"step": "0", "epoch": "0", "split": "stats", "loss": "", "lr": "", "top5": "", "act_std/0-Linear": "0.5"},
        {"step": "1", "epoch": "0.1", "split": "train", "loss": "1.0", "lr": "0.1", "top5": "", "act_std/0-Linear": ""},
        {"step": "1", "epoch": "0.1", "split": "val", "loss": "2.0", "lr": "", "top5": "0.5", "act_std/0-Linear": ""}]
