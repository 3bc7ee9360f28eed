"""The recipe objective: trial recipes, and the vectorized path against the sequential (Trainer) path."""
from __future__ import annotations

import copy

import pytest

from trainwell.vectorized import reference_train_one
from trainwell.models import MODELS
from trainwell.search import RecipeObjective, trial_raw
from trainwell.search.objective import TrialSpec

LRS = [0.0015, 0.004, 0.011, 0.03, 0.08]


def test_trial_raw_applies_overrides_and_budget(tiny_raw):
    raw = copy.deepcopy(tiny_raw)
    raw["train"] = {"epochs": 3, "batch_size": 32}
    out = trial_raw(raw, {"optim.lr": 0.0031, "model.widths": [8, 8], "optim.options.momentum": 0.5}, steps=77)
    assert out["optim"]["lr"] == 0.0031 and out["model"]["widths"] == [8, 8] and out["optim"]["options"] == {"momentum": 0.5}
    assert out["train"] == {"steps": 77, "batch_size": 32, "checkpoint": False} and "search" not in out
    assert raw["train"] == {"epochs": 3, "batch_size": 32}  # the input is not changed


def _specs(params_list, steps=60):
    return [TrialSpec(i, 1, p, steps) for i, p in enumerate(params_list)]


def test_vectorized_matches_sequential_trainer_without_weight_decay(tiny_raw):
    """Same init, batches, Adam math and evaluation steps: per-trial final val accuracy equal
    (the same number of correct validation examples; measured identical on CPU — float rounding of
    the batched matmuls could in principle flip an argmax, so the bound is one example)."""
    obj = RecipeObjective(tiny_raw)
    specs = _specs([{"optim.lr": lr} for lr in LRS])
    seq = [obj(s) for s in specs]
    vec = obj.run_many(specs)
    n_val = len(obj.shared_data(obj.recipe_for({}, 60))[0].bundle.y_val)
    for s, v in zip(seq, vec):
        assert abs(s["value"] - v["value"]) <= 1.0 / n_val + 1e-9, (s, v)
    same = sum(round(s["value"] * n_val) == round(v["value"] * n_val) for s, v in zip(seq, vec))
    assert same >= len(seq) - 1
    assert len({round(s["value"], 6) for s in seq}) > 1  # the trials really differ
    assert all(v["engine"].startswith("vectorized") for v in vec)


def test_vectorized_with_weight_decay_matches_the_reference_not_exactly_the_trainer(tiny_raw):
    """With weight decay, train_many (and its reference) decay biases too; the Trainer exempts them.
    The vectorized path equals reference_train_one within one val example; the Trainer within 5%."""
    obj = RecipeObjective(tiny_raw)
    params = [{"optim.lr": lr, "optim.weight_decay": wd} for lr, wd in zip(LRS, [1e-4, 1e-3, 3e-3, 1e-2, 3e-2])]
    specs = _specs(params)
    vec = obj.run_many(specs)
    recipe = obj.recipe_for({}, 60)
    data = obj.shared_data(recipe)[0].bundle
    make = lambda g: MODELS.build(recipe.model, input_shape=data.input_shape, num_classes=data.num_classes, generator=g)  # noqa: E731
    for p, v in zip(params, vec):
        ref = reference_train_one(make, {"seed": 0, "lr": p["optim.lr"], "weight_decay": p["optim.weight_decay"]},
                                  data.x_train, data.y_train, steps=60, batch_size=32, optimizer="adam",
                                  x_val=data.x_val, y_val=data.y_val)
        assert abs(ref.final_val_acc - v["value"]) <= 1.0 / len(data.y_val) + 1e-9
        seq = obj(_specs([p])[0])
        assert abs(seq["value"] - v["value"]) <= 0.05


def test_batchnorm_is_refused_with_a_named_reason(tiny_raw):
    raw = copy.deepcopy(tiny_raw)
    raw["model"]["norm"] = "batch"
    problem = RecipeObjective(raw).vectorize_problem(["optim.lr"], 60)
    assert problem is not None and "BatchNorm" in problem
    assert "model.widths" in RecipeObjective(tiny_raw).vectorize_problem(["optim.lr", "model.widths"], 60)
    raw = copy.deepcopy(tiny_raw)
    raw["train"]["label_smoothing"] = 0.1
    assert "label_smoothing" in RecipeObjective(raw).vectorize_problem(["optim.lr"], 60)
    raw = copy.deepcopy(tiny_raw)
    raw["train"]["swa"] = 0.5
    assert "train.swa" in RecipeObjective(raw).vectorize_problem(["optim.lr"], 60)
    assert RecipeObjective(tiny_raw).vectorize_problem(["optim.lr", "optim.weight_decay"], 60) is None


def test_diverging_trial_is_a_failure(tiny_raw):
    raw = copy.deepcopy(tiny_raw)
    raw["optim"]["name"] = "sgd"
    obj = RecipeObjective(raw)
    from trainwell.search.objective import TrialFailed

    with pytest.raises(TrialFailed):
        obj(_specs([{"optim.lr": 1e6}])[0])
    bad, good = obj.run_many(_specs([{"optim.lr": 1e6}, {"optim.lr": 1e-2}]))
    assert isinstance(bad, TrialFailed) and "non-finite" in str(bad)
    assert good["value"] == pytest.approx(obj(_specs([{"optim.lr": 1e-2}])[0])["value"], abs=1e-6)  # unaffected by its neighbour
