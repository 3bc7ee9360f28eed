"""The experiments' shared pieces, checked against hand-computed values and their definitions."""
import importlib
import math

import pytest
import torch
from torch import nn

from trainwell.errors import UserError
from trainwell.experiments import toy
from trainwell.experiments.budget import Budget
from trainwell.experiments.common import Curve, cell, layer_outputs, mnist1d, never_active, spread, stop_at, train_curve
from trainwell.experiments.registry import CLAIMS


def test_cell_is_median_and_range_hand_computed():
    assert cell([0.91, 0.93, 0.92], 100) == "92.0 [91.0–93.0]"
    assert cell([0.5]) == "0.5"
    assert cell([None, float("nan")]) == "n/a"
    assert cell([1.0, 3.0, float("inf")], digits=0) == "2 [1–3] (1 n/a)"
    assert cell([1e-5, 3e-5], digits=1) == "2.0e-05 [1.0e-05–3.0e-05]"
    s = spread([3.0, 1.0, None, 2.0])
    assert (s["median"], s["min"], s["max"], s["n"]) == (2.0, 1.0, 3.0, 3)


def test_budget_names_and_the_old_quick_flag():
    assert Budget.of(True).name == "quick" and Budget.of(False).name == "full" and Budget.of("smoke").smoke
    assert Budget.of("quick").pick(smoke=1, quick=2, full=3) == 2
    with pytest.raises(UserError, match="smoke, quick, full"):
        Budget.of("huge")


def test_steps_to_reads_loss_downwards_and_accuracy_upwards():
    c = Curve("x", steps=[10, 20, 30], loss=[2.0, float("nan"), 0.4], accuracy=[0.2, 0.8, 0.9],
              val_steps=[15, 30], val_accuracy=[0.5, 0.7])
    assert c.steps_to("loss", 0.5) == 30
    assert c.steps_to("accuracy", 0.75) == 20
    assert c.steps_to("val_accuracy", 0.6) == 30
    assert c.steps_to("accuracy", 0.95) is None


def test_stop_at_ends_a_run_at_its_target():
    data = mnist1d(subset=20)
    c = train_curve({"name": "mlp", "widths": [64]}, data, steps=400, optimizer="sgd", lr=0.1, batch_size=20,
                    log_every=5, eval_every=400, callbacks=[stop_at("accuracy", 1.0)])
    assert c.accuracy[-1] == 1.0 and c.steps[-1] < 400, "stopped at the first window at 100%"
    assert c.steps_to("accuracy", 1.0) == c.steps[-1]


def test_train_curve_goes_through_the_assembly_and_is_deterministic():
    data = mnist1d(subset=200)
    a = train_curve({"name": "mlp", "widths": [32]}, data, steps=30, seed=3, lr=0.05, log_every=10, eval_every=30)
    b = train_curve({"name": "mlp", "widths": [32]}, data, steps=30, seed=3, lr=0.05, log_every=10, eval_every=30)
    assert a.steps == [10, 20, 30] and a.loss == b.loss and a.lr == [0.05] * 3
    assert a.val_steps == [30] and a.val_accuracy == b.val_accuracy


def test_never_active_marks_units_that_never_fire():
    model = nn.Sequential()
    model.add_module("fc", nn.Linear(2, 3))
    model.add_module("act1", nn.ReLU())
    with torch.no_grad():
        model.fc.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]))
        model.fc.bias.zero_()
    x = torch.tensor([[1.0, 2.0], [3.0, 0.5]])  # unit 2 = −x1 − x2 < 0 for both
    assert never_active(model, x)["act1"].tolist() == [False, False, True]


def test_layer_outputs_in_train_mode_leaves_running_statistics_alone():
    model = nn.Sequential()
    model.add_module("norm", nn.BatchNorm1d(4))
    model.add_module("act1", nn.ReLU())
    model.eval()
    before = model.norm.running_mean.clone()
    x = torch.randn(16, 4) * 3 + 5
    out = layer_outputs(model, x, train=True)["act1"]
    assert torch.equal(model.norm.running_mean, before) and not model.training
    assert out.mean() < 1.0, "normalized with the batch's statistics"


def test_toy_sgd_matches_the_closed_form():
    a, lr, w0 = 3.0, 0.1, 2.0
    path = toy.trajectory(lambda w, t: 0.5 * a * (w ** 2).sum(), [w0, -w0], "sgd", lr=lr, steps=5)
    for t, x in enumerate(path["x"]):
        assert x == pytest.approx(w0 * (1 - lr * a) ** t, rel=1e-12)
    assert path["loss"][0] == pytest.approx(a * w0 ** 2)


def test_toy_stops_on_a_non_finite_loss():
    path = toy.trajectory(lambda w, t: (w ** 2).sum() * 10.0 ** (40 * t), [1.0, 1.0], "sgd", lr=1.0, steps=50)
    assert len(path["loss"]) < 51 and not math.isfinite(path["loss"][-1])


def test_one_sign_rows_hand_computed():
    from trainwell.experiments.zero_centered import one_sign_rows

    grad = torch.tensor([[1.0, 2.0], [-1.0, -3.0], [1.0, -1.0], [0.0, 0.0]])
    assert one_sign_rows(grad) == pytest.approx(2 / 3)


def test_distinct_rows_counts_identical_units_once():
    from trainwell.experiments.init_constant import distinct_rows

    assert distinct_rows(torch.full((5, 3), 0.05)) == 1
    assert distinct_rows(torch.randn(5, 3, generator=torch.Generator().manual_seed(0))) == 5


def test_calibration_error_hand_computed():
    from trainwell.experiments.label_smoothing import calibration_error

    probs = torch.tensor([[0.9, 0.1]] * 10)
    y = torch.tensor([0] * 8 + [1] * 2)  # confidence 0.9, accuracy 0.8 in the one bin
    assert calibration_error(probs, y) == pytest.approx(0.1, abs=1e-6)


def test_sinusoid_task_is_balanced_and_seeded():
    from trainwell.experiments.transfer_grid import sinusoids

    x, y = sinusoids(7, seed=3)
    assert x.shape == (35, 1, 40) and torch.bincount(y).tolist() == [7] * 5
    x2, y2 = sinusoids(7, seed=3)
    assert torch.equal(x, x2) and torch.equal(y, y2)


def test_cut_at_stage_keeps_the_pretrained_layers_and_adds_a_head():
    from trainwell.experiments.transfer_demo import MODEL
    from trainwell.experiments.transfer_grid import cut_at_stage
    from trainwell.models import MODELS

    model = MODELS.build(MODEL, input_shape=(1, 40), num_classes=5).eval()
    cut = cut_at_stage(model, 2, 3).eval()
    assert list(dict(cut.named_children()))[-3:] == ["gap", "flatten", "head"]
    assert "conv3" not in dict(cut.named_children()) and torch.equal(cut.conv1.weight, model.conv1.weight)
    assert cut(torch.randn(4, 1, 40)).shape == (4, 3)


def test_first_classes_keeps_only_those_labels():
    from trainwell.experiments.initial_loss import first_classes

    d = first_classes(mnist1d(), 3)
    assert d.num_classes == 3 and int(d.y_train.max()) == 2 and int(d.y_val.max()) == 2


def test_eight_bit_digits_span_the_pixel_range():
    from trainwell.experiments.preprocessing import eight_bit

    raw = eight_bit(())
    assert float(raw.x_train.min()) == 0.0 and float(raw.x_train.max()) == 255.0
    centered = eight_bit(("center",))
    assert centered.x_train.mean(0).abs().max() < 1e-3


def test_batchnorm_batch_dependence_is_zero_in_eval_mode_only():
    from trainwell.experiments.batchnorm_modes import batch_dependence

    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    x = torch.randn(64 + 40, 4, generator=torch.Generator().manual_seed(0))
    assert batch_dependence(model, x, train=False, n=8, batch=4) == 0.0
    assert batch_dependence(model, x, train=True, n=8, batch=4) > 1e-3


def test_every_claim_names_a_function_that_exists():
    for name, claim in CLAIMS.items():
        module, function = claim.target.split(":")
        assert callable(getattr(importlib.import_module(module), function)), name
        assert claim.claim and claim.source, name
