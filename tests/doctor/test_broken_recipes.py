"""The broken-recipe suite: each deliberately broken recipe (tests/recipes_broken/) must be diagnosed
with the finding that names its fault (the top of the causal order), its layer, evidence and
recipe edit; the healthy recipe gets no warning.

Budgets: `DoctorConfig().quick()` (1000 training examples at most, 100-step short run)."""
from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import torch
from torch import nn

from trainwell.doctor import DoctorConfig
from trainwell.doctor.subject import recipe_subject
from trainwell.preprocess import build_pipeline

# the deep-net faults show at init: a shorter run and sweep suffice
AT_INIT = {"short_steps": 40, "lr_steps": 30, "overfit_steps": 60, "max_train": 500, "capacity_steps": 60}


def test_healthy_recipe_has_no_warning(doctor):
    result = doctor("healthy")
    assert [f"{f.code}: {f.message}" for f in result.problems] == []
    assert result.top is None and result.exit_code == 0
    codes = {f.code for f in result.findings}
    assert {"nonfinite_inputs", "inputs_unnormalized", "preprocessing_leak", "duplicates_across_splits",
            "initial_loss", "regularization", "eval_batch_stats", "overfit_tiny", "learning_rate", "activations",
            "gradient_flow", "update_ratio", "loss_not_decreasing", "at_chance", "symmetric_init",
            "frozen_parameters", "no_nonlinearity", "unshuffled_batches", "class_imbalance"} <= codes
    json.dumps(result.to_json())  # plain records only


def test_tanh_small_init_collapses(doctor, problems):
    result = doctor("tanh_small_init", budgets=AT_INIT)
    assert result.top.code == "activations_collapsed"
    collapsed = {f.where: f.evidence for f in problems(result, "activations_collapsed")}
    # every tanh layer from the 2nd on has std < 0.1·s₀ at init; the deepest ones shrink by ~0.16× per layer
    assert {"act2", "act4", "act8"} <= set(collapsed)
    assert collapsed["act8"]["std_init"] < collapsed["act4"]["std_init"] < collapsed["act2"]["std_init"] < 0.1
    assert all(e["when"] == "init" for e in collapsed.values())
    assert result.top.prescription.edits == {"model.init": "xavier"}
    flow = problems(result, "vanishing_gradients")
    assert flow and flow[0].evidence["ratio"] < 1e-2 and flow[0].explained_by == "activations_collapsed"


def test_tanh_large_init_saturates(doctor, problems):
    result = doctor("tanh_large_init", budgets=AT_INIT)
    sat = problems(result, "activations_saturated")
    assert len(sat) == 8  # all eight hidden tanh layers
    assert all(f.evidence["saturated_frac_init"] > 0.2 for f in sat)
    assert result.top.code == "activations_saturated"
    init = result.by_check("initial_loss")[0]
    assert init.severity == "fail" and init.evidence["loss"] > 2 * math.log(10)
    assert init.explained_by == "activations_saturated"
    assert result.exit_code == 1


def test_relu_xavier_deep_collapses(doctor, problems):
    result = doctor("relu_xavier_deep", budgets=AT_INIT)
    collapsed = {f.where for f in problems(result, "activations_collapsed")}
    # Xavier halves the second moment per ReLU layer: std ≈ 0.58·0.707^(l−1)·s₀ → below 0.1·s₀ from layer ~6
    assert {"act6", "act7", "act8"} <= collapsed and "act1" not in collapsed
    assert result.top.prescription.edits == {"model.init": "kaiming"}


def test_lr_too_high(doctor):
    result = doctor("lr_too_high", "train.epochs=3")  # a recipe measured in epochs (the short run sets steps)
    top = result.top
    assert top.code == "lr_too_high"
    assert top.prescription.edits["optim.lr"] < 0.03 and top.prescription.direction == {"optim.lr": "down"}
    assert not result.by_check("lr_too_low")


def test_lr_too_low(doctor):
    result = doctor("lr_too_low")
    top = result.top
    assert top.code == "lr_too_low" and top.severity == "fail" and top.evidence["ratio"] < 1 / 300
    assert top.prescription.edits["optim.lr"] >= 3e-4
    slow = result.by_check("loss_not_decreasing")[0]
    assert slow.problem and slow.explained_by == "lr_too_low"


def test_shuffled_labels(doctor, mnist1d_arrays, write_npz, tmp_path):
    x, y = mnist1d_arrays
    path = write_npz(tmp_path / "shuffled.npz", x, np.random.default_rng(0).permutation(y))
    result = doctor("labels_shuffled", f'data.path="{path}"')
    assert result.top.code == "labels_unlearnable"
    chance = result.by_check("at_chance")[0]
    assert chance.problem and chance.explained_by == "labels_unlearnable"
    # the network can still memorize 20 examples: the model is fine, the labels are not
    assert result.by_check("overfit_tiny")[0].severity == "pass"


def test_inputs_not_normalized(doctor, mnist1d_arrays, write_npz, tmp_path):
    x, y = mnist1d_arrays
    path = write_npz(tmp_path / "uncentered.npz", x * 100 + 500, y)
    result = doctor("inputs_uncentered", f'data.path="{path}"')
    top = result.top
    assert top.code == "inputs_unnormalized" and top.evidence["mean"] > 400 and top.evidence["std"] > 50
    assert top.prescription.edits == {"data.preprocess": ["channel_standardize"]}  # N×1×40 signals: per channel


def test_preprocessing_fitted_on_test(broken_recipe):
    from trainwell.doctor import diagnose

    r = broken_recipe("preprocess_on_test")
    cfg = replace(DoctorConfig(seed=0).quick(), **AT_INIT)
    s = recipe_subject(r, cfg)
    leaky = build_pipeline(r.data.preprocess).fit(s.raw.x_test)  # the bug: statistics of the TEST split
    result = diagnose(r, cfg, subject=replace(s, pipeline=leaky))
    fit = result.by_check("preprocessing_leak")[0]
    assert fit.severity == "fail" and "TEST" in fit.message
    assert fit.evidence["d_test"] < 1e-6 < fit.evidence["d_train"]
    assert result.top.code == "preprocessing_leak" and result.exit_code == 1


class BatchStatsNorm(nn.BatchNorm1d):
    """The bug: BatchNorm that keeps no running statistics, so eval mode normalizes by the batch."""

    def __init__(self, num_features: int):
        super().__init__(num_features, track_running_stats=False)


def test_eval_uses_batch_statistics(broken_recipe):
    from trainwell.doctor import diagnose
    from trainwell.doctor.loss_checks import check_eval_batch_independence

    r = broken_recipe("batchnorm_mlp")
    cfg = replace(DoctorConfig(seed=0).quick(), **AT_INIT)
    s = recipe_subject(r, cfg)
    model = s.model
    before = {n: p.detach().clone() for n, p in model.named_parameters() if not n.startswith("norm")}
    for name, module in list(model.named_children()):
        if isinstance(module, nn.BatchNorm1d):
            setattr(model, name, BatchStatsNorm(module.num_features))
    result = diagnose(r, cfg, subject=s)
    f = result.by_check("eval_batch_stats")[0]
    assert f.severity == "fail" and f.where == "norm1" and "eval" in f.prescription.code
    # and the unmodified recipe passes the same check; the doctor never trained the model it was given
    healthy = recipe_subject(r, cfg).model
    assert check_eval_batch_independence(healthy, s.x_train[:64]).severity == "pass"
    after = dict(model.named_parameters())
    assert all(torch.equal(before[n], after[n]) for n in before)


def test_a_recipe_whose_data_file_holds_nan_is_diagnosed_not_crashed(tmp_path):
    """The loader refuses the file (NaN); the doctor reads the raw arrays to explain the refusal."""
    from trainwell.config import load_recipe
    from trainwell.doctor.run import diagnose

    g = np.random.default_rng(0)
    x = g.normal(size=(300, 12)).astype(np.float32)
    x[5, 3] = np.nan
    np.savez(tmp_path / "nan.npz", x=x, y=g.integers(0, 3, 300))
    (tmp_path / "r.toml").write_text('name = "nan"\n[data]\npath = "nan.npz"\n[model]\nname = "mlp"\nwidths = [8]\n'
                                     '[train]\nsteps = 10\n')
    result = diagnose(load_recipe(tmp_path / "r.toml"), DoctorConfig().quick())
    assert result.top.code == "nonfinite_inputs" and result.exit_code != 0
