"""The broken-recipe suite: each deliberately broken recipe (tests/recipes_broken/) must produce
the finding that names its fault, with the layer and the numbers; the healthy recipe none.

Budgets: `DoctorConfig().quick()` (2000 training examples at most, 200-step short run)."""
from __future__ import annotations

import json
import math

import numpy as np
import torch
from torch import nn

from trainwell.doctor.common import load_raw
from trainwell.preprocess import build_pipeline
from trainwell.doctor.common import Prepared, prepare

# the deep-net faults show at init: a shorter run and sweep suffice
AT_INIT = {"short_steps": 40, "lr_steps": 40, "overfit_steps": 60, "max_train": 500}


def test_healthy_recipe_has_no_findings(doctor):
    result = doctor("healthy")
    bad = [f"{f.check}: {f.message}" for f in result.findings if f.status != "pass"]
    assert bad == []
    assert result.exit_code == 0
    checks = {f.check for f in result.findings}
    assert {"data_finite", "data_centered", "data_fit_on_train", "initial_loss", "regularization", "eval_batch_stats",
            "overfit_tiny", "learning_rate", "activations", "dead_relu", "gradient_flow", "update_ratio",
            "loss_decrease", "learning_signal", "train_val_gap"} <= checks
    json.dumps(result.to_json())  # plain records only


def test_tanh_small_init_collapses(doctor, problems):
    result = doctor("tanh_small_init", budgets=AT_INIT)
    acts = problems(result, "activations")
    # every tanh layer from the 2nd on has std < 0.1·s₀ at init; the deepest ones shrink by ~0.16× per layer
    collapsed = {f.layer: f.numbers for f in acts if f.numbers["verdict"] == "collapsed"}
    assert {"act2", "act4", "act8"} <= set(collapsed)
    assert collapsed["act8"]["std_init"] < collapsed["act4"]["std_init"] < collapsed["act2"]["std_init"] < 0.1
    assert "xavier" in next(f.message for f in acts if f.layer == "act8")
    flow = problems(result, "gradient_flow")
    assert flow and "vanishing" in flow[0].message and flow[0].numbers["ratio"] < 1e-2


def test_tanh_large_init_saturates(doctor, problems):
    result = doctor("tanh_large_init", budgets=AT_INIT)
    sat = [f for f in problems(result, "activations") if f.numbers["verdict"] == "saturated"]
    assert len(sat) == 8  # all eight hidden tanh layers
    assert all(f.numbers["saturated_frac_init"] > 0.5 for f in sat)
    init = result.by_check("initial_loss")[0]
    assert init.status == "fail" and init.numbers["loss"] > 2 * math.log(10)
    assert result.exit_code == 1


def test_relu_xavier_deep_collapses(doctor, problems):
    result = doctor("relu_xavier_deep", budgets=AT_INIT)
    collapsed = {f.layer: f.numbers for f in problems(result, "activations") if f.numbers["verdict"] == "collapsed"}
    # Xavier halves the second moment per ReLU layer: std ≈ 0.58·0.707^(l−1)·s₀ → below 0.1·s₀ from layer ~6
    assert {"act6", "act7", "act8"} <= set(collapsed)
    assert "act1" not in collapsed
    assert "kaiming" in problems(result, "activations")[0].message


def test_lr_too_high(doctor, problems):
    result = doctor("lr_too_high", "train.epochs=3")  # a recipe measured in epochs (the short run sets steps)
    high = [f for f in problems(result, "update_ratio") if "too high" in f.message]
    assert high and high[0].numbers["median_update_ratio"][high[0].layer] > 1e-2
    assert not [f for f in problems(result, "update_ratio") if "too low" in f.message]


def test_lr_too_low(doctor, problems):
    result = doctor("lr_too_low")
    lr = result.by_check("learning_rate")[0]
    assert lr.status == "fail" and "too low" in lr.message and lr.numbers["ratio"] < 1 / 300
    low = [f for f in problems(result, "update_ratio") if "too low" in f.message]
    assert low
    assert problems(result, "loss_decrease")


def test_shuffled_labels(doctor, problems, mnist1d_arrays, write_npz, tmp_path):
    x, y = mnist1d_arrays
    y_shuffled = np.random.default_rng(0).permutation(y)
    path = write_npz(tmp_path / "shuffled.npz", x, y_shuffled)
    result = doctor("labels_shuffled", f'data.path="{path}"')
    signal = result.by_check("learning_signal")[0]
    assert signal.status == "fail" and "labels" in signal.message
    assert signal.numbers["val_accuracy"] <= signal.numbers["chance_upper"]
    # the network can still memorize 20 examples: the model is fine, the labels are not
    assert result.by_check("overfit_tiny")[0].status == "pass"


def test_inputs_not_centered(doctor, problems, mnist1d_arrays, write_npz, tmp_path):
    x, y = mnist1d_arrays
    path = write_npz(tmp_path / "uncentered.npz", x * 100 + 500, y)
    result = doctor("inputs_uncentered", f'data.path="{path}"')
    centered = result.by_check("data_centered")[0]
    scaled = result.by_check("data_scaled")[0]
    assert centered.status == "warn" and "standardize" in centered.message
    assert centered.numbers["mean_abs_mean"] > 400
    assert scaled.status == "warn" and scaled.numbers["mean_std"] > 50


def test_preprocessing_fitted_on_test(doctor, broken_recipe):
    r = broken_recipe("preprocess_on_test")
    p = prepare(r)
    raw = load_raw(r)
    pipeline = build_pipeline(r.data.preprocess).fit(raw.x_test)  # the bug: statistics of the TEST split
    data = raw
    data.x_train, data.x_val, data.x_test = (pipeline.transform(t) for t in (raw.x_train, raw.x_val, raw.x_test))
    leaky = Prepared(r, data.to(p.device), pipeline, p.model, p.device)
    result = doctor("preprocess_on_test", prepared=leaky, raw=load_raw(r))
    fit = result.by_check("data_fit_on_train")[0]
    assert fit.status == "fail" and "TEST" in fit.message
    assert fit.numbers["d_test"] < 1e-6 < fit.numbers["d_train"]
    assert result.exit_code == 1


class BatchStatsNorm(nn.BatchNorm1d):
    """The bug: BatchNorm that keeps no running statistics, so eval mode normalizes by the batch."""

    def __init__(self, num_features: int):
        super().__init__(num_features, track_running_stats=False)


def test_eval_uses_batch_statistics(doctor, broken_recipe):
    r = broken_recipe("batchnorm_mlp")
    p = prepare(r)
    model = p.model
    for name, module in list(model.named_children()):
        if isinstance(module, nn.BatchNorm1d):
            setattr(model, name, BatchStatsNorm(module.num_features))
    result = doctor("batchnorm_mlp", prepared=Prepared(r, p.data, p.pipeline, model, p.device))
    f = result.by_check("eval_batch_stats")[0]
    assert f.status == "fail" and f.layer == "norm1" and "model.eval()" in f.message
    # and the unmodified recipe passes the same check
    healthy = prepare(r).model
    from trainwell.doctor.loss_checks import check_eval_batch_independence

    assert check_eval_batch_independence(healthy, p.data.x_train[:64]).status == "pass"
    assert torch.equal(next(model.parameters()), next(model.parameters()))
