"""Plain records → scalars, histograms and new-record tails: hand-computed cases and references."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from trainwell.train.loggers.histograms import activation_histograms, weight_histograms
from trainwell.train.loggers.scalars import flatten, layer_label, record_values, stats_values, tagged
from trainwell.train.loggers.tail import RecordTail
from trainwell.train.state import TrainState


def test_record_values_keep_numbers_in_order_and_drop_bookkeeping():
    record = {"split": "train", "step": 20, "epoch": 0.5, "loss": 0.7, "mse": 2, "r2": float("nan"),
              "note": "x", "flag": True, "lr": 1e-3}
    values = record_values(record)
    assert list(values) == ["loss", "mse", "r2", "lr"]
    assert values["mse"] == 2.0 and isinstance(values["mse"], float) and math.isnan(values["r2"])
    assert tagged("val", {"loss": 1.0}) == {"val/loss": 1.0}


def test_stats_values_name_each_layer_and_leave_undefined_ratios_out():
    record = {"step": 10, "phase": "train", "layers": [
        {"name": "net.0", "type": "Linear", "mean": 0.1, "std": 2.0, "grad_std": 1e-3},
        {"name": "net.1", "type": "ReLU", "mean": 0.5, "std": 0.7, "dead_frac": 0.25},
        {"name": "net.2", "type": "Tanh", "mean": 0.0, "std": 0.9, "saturated_frac": 0.5, "grad_std": None}],
        "params": [{"name": "net.0.weight", "grad_norm": 0.3, "weight_norm": 2.0, "update_ratio": 1e-3},
                   {"name": "net.0.bias", "grad_norm": 0.1, "weight_norm": 0.0, "update_ratio": 5e30}]}
    assert stats_values(record) == {
        "act_mean/net.0-Linear": 0.1, "act_std/net.0-Linear": 2.0, "grad_std/net.0-Linear": 1e-3,
        "act_mean/net.1-ReLU": 0.5, "act_std/net.1-ReLU": 0.7, "dead_frac/net.1-ReLU": 0.25,
        "act_mean/net.2-Tanh": 0.0, "act_std/net.2-Tanh": 0.9, "saturated_frac/net.2-Tanh": 0.5,
        "grad_norm/net.0.weight": 0.3, "update_ratio/net.0.weight": 1e-3, "grad_norm/net.0.bias": 0.1}
    assert layer_label({"name": "", "type": "Linear"}) == "model-Linear"
    assert layer_label({"name": "a(b)", "type": "X"}) == "a_b_-X"


def test_flatten_writes_every_leaf_as_json_text():
    config = {"optim": {"lr": 0.01, "options": {"betas": [0.9, 0.99]}, "grad_clip": None},
              "model": {"name": "mlp"}, "name": "r", "train": {"compile": False}, "augment": {"train": []}}
    assert flatten(config) == {"optim.lr": "0.01", "optim.options.betas": "[0.9, 0.99]", "optim.grad_clip": "null",
                               "model.name": "mlp", "name": "r", "train.compile": "false", "augment.train": "[]"}


def test_weight_histograms_match_numpy_in_float64():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(7, 50), nn.Linear(50, 3))
    with torch.no_grad():
        model[1].bias.fill_(0.25)  # constant: binned over [v - 1, v + 1], as torch.histc does
    hists = {h.name: h for h in weight_histograms(model, bins=12)}
    assert list(hists) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    w = model[0].weight.detach().double().numpy().ravel()
    h = hists["0.weight"]
    counts, edges = np.histogram(w, bins=12, range=(w.min(), w.max()))
    assert h.bucket_counts == counts.tolist() and h.num == w.size
    assert h.lo == pytest.approx(w.min()) and h.hi == pytest.approx(w.max())
    assert h.bucket_limits == pytest.approx(edges[1:].tolist(), rel=1e-6)
    assert h.sum == pytest.approx(w.sum(), rel=1e-5) and h.sum_squares == pytest.approx((w * w).sum(), rel=1e-5)
    b = hists["1.bias"]
    assert b.bucket_counts == [0.0] * 6 + [3.0] + [0.0] * 5  # 0.25 in [-0.75, 1.25]: bucket 6 of 12
    assert b.bucket_limits[-1] == pytest.approx(1.25) and b.bucket_limits[0] == pytest.approx(-0.75 + 2 / 12)
    with torch.no_grad():
        model[0].weight[0, 0] = float("nan")
    with pytest.raises(RuntimeError):
        weight_histograms(model)


def test_activation_histograms_from_a_stats_record():
    record = {"layers": [{"name": "1", "type": "ReLU", "mean": 1.0, "std": 2.0, "lo": 0.0, "hi": 4.0, "hist": [3, 0, 1, 0]},
                         {"name": "2", "type": "Flatten", "mean": 0.0, "std": 1.0}]}
    (h,) = activation_histograms(record)
    assert h.name == "1-ReLU" and h.num == 4 and h.bucket_limits == [1.0, 2.0, 3.0, 4.0]
    assert h.sum == 4.0 and h.sum_squares == (4.0 + 1.0) * 4


def _state(run_dir, records=None):
    state = TrainState(model=nn.Linear(1, 1), optimizer=None, total_steps=1, device=torch.device("cpu"), run_dir=run_dir)
    if records is not None:
        state.records = records
    return state


def test_record_tail_reads_only_new_whole_records(tmp_path):
    path = tmp_path / "stats.jsonl"
    path.write_text(json.dumps({"step": 0}) + "\n" + '{"step": 1, "torn')  # an earlier run, killed mid-line
    state = _state(tmp_path)
    tail = RecordTail("stats")
    tail.start(state)
    state.emit("stats", {"step": 5})     # open_jsonl cuts the torn line, then appends
    state.emit("stats", {"step": 6})
    assert tail.new(state) == [{"step": 5}, {"step": 6}]
    assert tail.new(state) == []
    with open(path, "a") as handle:
        handle.write('{"step": 7}\n{"step": 8')  # the second is still being written
    assert tail.new(state) == [{"step": 7}]
    with open(path, "a") as handle:
        handle.write("}\n")
    assert tail.new(state) == [{"step": 8}]
    state.close()

    memory = _state(None, {"stats": [{"step": 0}]})
    tail = RecordTail("stats")
    tail.start(memory)
    memory.emit("stats", {"step": 3})
    assert tail.new(memory) == [{"step": 3}] and tail.new(memory) == []
