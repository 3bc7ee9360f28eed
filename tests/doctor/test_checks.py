"""Hand-computed cases for the doctor's rules (pure functions of numbers, tensors and records)."""
from __future__ import annotations

import argparse
import json
import math
from types import SimpleNamespace

import torch

from trainwell.config import Recipe
from trainwell.diagnostics.lr_finder import LRFinderResult
from trainwell.doctor.activation_checks import check_activations, check_gradient_flow
from trainwell.doctor.config import DoctorConfig
from trainwell.doctor.data_checks import (
    batch_purity,
    check_batch_order,
    check_constant,
    check_duplicates,
    check_feature_scale,
    check_fit_on_train,
    check_normalization,
    duplicate_fraction,
)
from trainwell.doctor.finding import Finding, Prescription, exit_code, toml_value
from trainwell.doctor.loss_checks import check_initial_loss, initial_loss
from trainwell.doctor.lr_check import judge_lr, loss_trend
from trainwell.doctor.run_checks import (
    balanced_accuracy,
    chance_upper,
    check_clipping,
    check_generalization,
    check_imbalance,
    check_loss,
    check_schedule,
)
from trainwell.diagnostics.init_stats import SATURATED
from trainwell.preprocess import build_pipeline

CFG = DoctorConfig()


def test_initial_loss_thresholds():
    c = 10
    log_c = math.log(c)
    assert check_initial_loss(log_c * 1.49, c, CFG).severity == "pass"
    assert check_initial_loss(log_c * 1.51, c, CFG).severity == "info"  # somewhat large logits: not a fault
    assert check_initial_loss(log_c * 2.01, c, CFG).severity == "fail"
    assert check_initial_loss(log_c * 0.4, c, CFG).severity == "warn"
    assert check_initial_loss(float("nan"), c, CFG).severity == "fail"


def test_initial_loss_of_zero_logits_is_log_c():
    model = torch.nn.Linear(5, 7)
    torch.nn.init.zeros_(model.weight)
    torch.nn.init.zeros_(model.bias)
    x, y = torch.randn(32, 5), torch.randint(0, 7, (32,))
    assert abs(initial_loss(model, x, y) - math.log(7)) < 1e-6


def test_saturation_threshold_is_the_init_stats_one():
    assert CFG.saturated_warn == SATURATED == 0.2


def test_fit_on_train_distinguishes_train_test_and_all():
    g = torch.Generator().manual_seed(0)
    tr, va, te = (torch.randn(200, 6, generator=g) * s + m for s, m in ((1, 0), (1, 0.1), (2, 1)))
    ok = build_pipeline(["standardize"]).fit(tr)
    assert check_fit_on_train(ok, tr, va, te, CFG).severity == "pass"
    f = check_fit_on_train(build_pipeline(["standardize"]).fit(te), tr, va, te, CFG)
    assert f.severity == "fail" and "TEST" in f.message and f.code == "preprocessing_leak"
    f = check_fit_on_train(build_pipeline(["standardize"]).fit(torch.cat([tr, va, te])), tr, va, te, CFG)
    assert f.severity == "fail" and "whole data set" in f.message
    other = build_pipeline(["standardize"]).fit(torch.randn(300, 6, generator=g) * 0.5 - 3)
    assert check_fit_on_train(other, tr, va, te, CFG).severity == "warn"


def test_normalization_is_judged_globally():
    x = torch.randn(500, 4, generator=torch.Generator().manual_seed(1))
    assert check_normalization(x, CFG, True).severity == "pass"
    # mean 1.5 with std 1: |μ| > 1·σ → off centre; ×100 → std 100 outside [0.05, 20]
    assert check_normalization(x + 1.5, CFG, True).severity == "warn"
    f = check_normalization(x * 100, CFG, False)
    assert f.severity == "warn" and f.prescription.edits == {"data.preprocess": ["standardize"]}
    # per-feature offsets that cancel globally (constant border pixels of digits) are not a fault
    offsets = x.clone()
    offsets[:, 0] = -0.8
    offsets[:, 1] += 0.8
    assert check_normalization(offsets, CFG, True).severity == "pass"
    images = torch.randn(50, 3, 8, 8) * 50
    assert check_normalization(images, CFG, False).prescription.edits == {"data.preprocess": ["channel_standardize"]}


def test_feature_scale_and_constant_features():
    x = torch.randn(400, 6, generator=torch.Generator().manual_seed(2))
    assert check_feature_scale(x, CFG).severity == "pass"
    x[:, 3] *= 1000
    f = check_feature_scale(x, CFG)
    assert f.severity == "warn" and f.where == "feature 3" and f.evidence["ratio"] > 500
    x[:, 2] = 3.0
    f = check_constant(x, CFG)
    assert f.severity == "info" and f.evidence["constant_features"] == 1  # a property of the data


def test_duplicates_exact_and_near():
    g = torch.Generator().manual_seed(3)
    train = torch.randn(300, 20, generator=g)
    held = torch.randn(100, 20, generator=g)
    assert duplicate_fraction(train, held, CFG.dup_rtol) == (0.0, 0)
    held[:10] = train[:10]                      # exact copies
    held[10:15] = train[20:25] * (1 + 1e-5)     # near copies (relative 1e-5 ≪ 1e-3)
    frac, count = duplicate_fraction(train, held, CFG.dup_rtol)
    assert count == 15 and abs(frac - 0.15) < 1e-12
    f = check_duplicates(train, {"validation": held, "test": None}, CFG)
    assert f.severity == "warn" and abs(f.evidence["validation_fraction"] - 0.15) < 1e-12
    big = torch.randn(100, 500, generator=g)    # projected to 64 dims for the search, confirmed in full
    assert duplicate_fraction(big, big[:7].clone(), CFG.dup_rtol)[1] == 7


def test_batch_order():
    y = torch.arange(400) % 4
    assert batch_purity([torch.tensor([0, 0, 1, 1]), torch.tensor([2, 2, 2, 2])]) == 0.75
    shuffled = y[torch.randperm(400, generator=torch.Generator().manual_seed(0))]
    mixed = [shuffled[i:i + 32] for i in range(0, 320, 32)]
    assert check_batch_order(mixed, y, CFG, "recipe").severity == "pass"
    ordered = y.sort().values
    f = check_batch_order([ordered[i:i + 32] for i in range(0, 320, 32)], y, CFG, "recipe")
    assert f.severity == "warn" and abs(f.evidence["batch_purity"] - 0.925) < 1e-12  # 3 batches straddle 2 classes
    assert f.prescription.edits == {"train.shuffle": True}


def subject(**kw):
    base = dict(lr=1e-3, adaptive=True, optimizer_name="adam", optimizer=None, kind="recipe")
    base.update(kw)
    return SimpleNamespace(**base)


def sweep(suggestion: float) -> LRFinderResult:
    lrs = [10 ** (-6 + 6 * i / 49) for i in range(50)]
    smoothed = [2.3 - 0.02 * i for i in range(40)] + [1.5 + 0.3 * i for i in range(10)]  # min 1.5 at lrs[40]
    return LRFinderResult(lrs, smoothed, smoothed, suggestion, False)


def test_lr_verdict_is_one_and_optimizer_aware():
    s = 1e-2
    good = {"loss_first": 2.3, "loss_last": 1.0, "drop": 0.56, "max_rise": 0.0, "loss_init": 2.3, "loss_peak": 2.3}
    slow = {**good, "loss_last": 2.25, "drop": 0.02}
    assert judge_lr(subject(lr=3e-3), sweep(s), good, False, "", {}, CFG).severity == "pass"
    high = judge_lr(subject(lr=0.2), sweep(s), good, False, "", {}, CFG)   # 20× the suggestion
    assert high.code == "lr_too_high" and high.prescription.edits["optim.lr"] == round(s / 3, 4)
    low = judge_lr(subject(lr=1e-4), sweep(s), slow, False, "", {}, CFG)   # 100× below and barely moving
    assert low.code == "lr_too_low" and low.prescription.direction == {"optim.lr": "up"}
    assert judge_lr(subject(lr=1e-4), sweep(s), good, False, "", {}, CFG).severity == "pass"  # low but it learns
    assert judge_lr(subject(lr=1e-6), sweep(s), good, False, "", {}, CFG).severity == "fail"  # 10⁴ below
    diverged = judge_lr(subject(lr=3e-3), sweep(s), {}, True, "the training loss became nan", {}, CFG)
    assert diverged.code == "lr_too_high" and diverged.severity == "fail" and diverged.prescription.edits["optim.lr"] < 3e-3
    spike = {**good, "loss_peak": 9.0}  # climbed to 3.9× the loss at init before settling
    assert judge_lr(subject(lr=3e-3), sweep(s), spike, False, "", {}, CFG).code == "lr_too_high"
    # update ratios count for SGD only: an Adam update is ≈ lr per weight whatever the gradient
    tiny = {"fc1.weight": 1e-6, "fc2.weight": 2e-6}
    assert judge_lr(subject(lr=3e-3), sweep(s), slow, False, "", tiny, CFG).severity == "pass"
    sgd = subject(lr=3e-3, adaptive=False, optimizer_name="sgd")
    assert judge_lr(sgd, sweep(s), slow, False, "", tiny, CFG).code == "lr_too_low"


def test_loss_trend_and_loss_findings():
    metrics = [{"loss": v} for v in (2.3, 2.0, 1.5, 3.2, 1.4)]
    t = loss_trend(metrics, 2.3)
    assert t["drop"] == (2.3 - 1.4) / 2.3 and abs(t["max_rise"] - (3.2 - 1.5) / 1.5) < 1e-12 and t["loss_peak"] == 3.2
    codes = {f.code: f.severity for f in check_loss(t, False, "", CFG)}
    assert codes == {"loss_not_decreasing": "pass", "loss_unstable": "warn"}  # it doubled between two windows
    flat = loss_trend([{"loss": 2.30}, {"loss": 2.29}, {"loss": 2.29}])
    assert check_loss(flat, False, "", CFG)[0].severity == "warn"
    assert check_loss({}, True, "the training loss became nan; lower the lr", CFG)[0].code == "diverged"


def test_chance_is_the_majority_rate():
    # p = 0.5 (imbalanced), n = 400: 0.5 + 3·√(0.25/400) = 0.575
    assert abs(chance_upper(0.5, 400, 3.0) - 0.575) < 1e-12
    at = check_generalization({"train_accuracy": 0.6, "val_accuracy": 0.55, "n_val": 400, "majority_rate": 0.5}, CFG)
    assert at[0].code == "at_chance" and at[0].severity == "fail"
    ok = check_generalization({"train_accuracy": 0.99, "val_accuracy": 0.6, "n_val": 400, "majority_rate": 0.1}, CFG)
    assert {f.code: f.severity for f in ok} == {"at_chance": "pass", "overfitting": "info"}


def test_class_imbalance():
    y = torch.tensor([0] * 90 + [1] * 5 + [2] * 5)
    pred = torch.zeros(100, dtype=torch.long)
    assert abs(balanced_accuracy(pred, y, 3) - 1 / 3) < 1e-12
    scores = {"val_accuracy": 0.9, "balanced_accuracy": 1 / 3, "majority_rate": 0.9}
    f = check_imbalance([90, 5, 5], scores, False, CFG)
    assert f.severity == "warn" and f.prescription.edits == {"train.class_weights": "balanced"}
    fine = check_imbalance([90, 5, 5], {**scores, "balanced_accuracy": 0.85}, False, CFG)
    assert fine.severity == "info"  # imbalanced, but the rare classes are learned
    assert check_imbalance([30, 35, 35], scores, False, CFG).severity == "pass"


def test_clipping_every_step():
    logs = [{"grad_norm": g} for g in (5.0, 4.0, 6.0, 5.5)]
    f = check_clipping(logs, 0.01, False, "train.clip_grad_norm", CFG)
    assert f.severity == "warn" and f.evidence["clipped_fraction"] == 1.0
    assert f.prescription.edits == {"train.clip_grad_norm": 10.0}  # 2 × the median norm 5.25, 2 significant digits
    assert check_clipping(logs, 0.01, True, "train.clip_grad_norm", CFG).severity == "info"  # Adam normalizes anyway
    assert check_clipping(logs, 10.0, False, "train.clip_grad_norm", CFG).severity == "pass"
    assert check_clipping(logs, None, False, "train.clip_grad_norm", CFG).severity == "pass"


def test_schedule_reaching_zero_early():
    early = check_schedule({"name": "step", "step_size": 0.05, "gamma": 0.01}, 1000, CFG, "recipe")
    assert early.severity == "warn" and early.evidence["below_floor_from"] == 100  # 0.01² at step 100
    assert early.prescription.edits == {"schedule": {"name": "cosine"}}
    for fine in ({"name": "cosine"}, {"name": "onecycle"}, {"name": "constant"},
                 {"name": "step", "milestones": [0.5, 0.75], "gamma": 0.1}, {"name": "cosine_restarts", "cycles": 5},
                 {"name": "cosine", "warmup_fraction": 0.1}):
        assert check_schedule(fine, 1000, CFG, "recipe").severity == "pass", fine


def record(step, layers, params=()):
    return {"step": step, "phase": "train", "layers": layers, "params": list(params)}


def test_activation_verdicts_from_records():
    relu = lambda name, dead, std=1.0, g=1e-2: {"name": name, "type": "ReLU", "kind": "relu", "std": std,  # noqa: E731
                                                "dead_frac": dead, "grad_std": g}
    recs = [record(0, [relu("act1", 0.0), relu("act2", 0.1), relu("act3", 0.8)]),
            record(10, [relu("act1", 0.75), relu("act2", 0.35), relu("act3", 0.8)])]
    s = SimpleNamespace(kind="recipe", recipe=Recipe())
    found = {f.where: f for f in check_activations(recs, None, None, 1.0, CFG, s)}
    assert found["act1"].severity == "fail" and found["act1"].evidence["when"] == "end"
    assert found["act1"].prescription is None  # died during training: a symptom, no prescription of its own
    assert found["act2"].severity == "warn"
    assert found["act3"].evidence["when"] == "init" and found["act3"].prescription.edits == {"model.init": "kaiming"}


def test_gradient_flow_from_records():
    lin = lambda name, g: {"name": name, "type": "Linear", "kind": None, "std": 1.0, "grad_std": g}  # noqa: E731
    recs = [record(0, [lin("fc1", 1e-7), lin("fc2", 1e-5), lin("fc3", 1e-3), lin("head", 1e-2)])]
    s = SimpleNamespace(kind="recipe", recipe=Recipe())
    f = check_gradient_flow(recs, ["fc1", "fc2", "fc3", "head"], None, CFG, s)[0]
    assert f.code == "vanishing_gradients" and abs(f.evidence["ratio"] - 1e-5) < 1e-12
    ok = [record(0, [lin("fc1", 1e-2), lin("fc2", 1e-2), lin("head", 2e-2)])]
    assert check_gradient_flow(ok, ["fc1", "fc2", "head"], None, CFG, s)[0].severity == "pass"


def test_finding_json_and_exit_code():
    p = Prescription("lower the learning rate to 0.0003", {"optim.lr": 3e-4}, "lr=3e-4", {"optim.lr": "down"})
    fs = [Finding("a", "pass", "ok"), Finding("b", "warn", "hm", {"x": float("inf")}, "fc1", p)]
    assert exit_code(fs) == 0 and exit_code(fs + [Finding("c", "fail", "bad")]) == 1
    j = fs[1].to_json()
    assert j["evidence"] == {"x": None} and j["prescription"]["set"] == "--set optim.lr=0.0003"
    assert Finding.from_json(json.loads(json.dumps(j))).prescription.edits == {"optim.lr": 3e-4}
    assert toml_value(["standardize"]) == '["standardize"]' and toml_value({"name": "cosine"}) == '{name = "cosine"}'
    assert (fs[1].check, fs[1].status, fs[1].layer) == ("b", "warn", "fc1")  # the former names


def _run(module, argv):
    p = argparse.ArgumentParser()
    module.add_args(p)
    return module.run(p.parse_args(argv))


def test_init_stats_command_json(tmp_path, capsys):
    from trainwell.commands import init_stats

    out = tmp_path / "init.json"
    argv = ["--depth", "6", "--width", "200", "--batch", "200", "--act", "tanh", "--init", "normal", "--std", "0.01",
            "--json", str(out), "--plot", str(tmp_path / "init.png")]
    assert _run(init_stats, argv) == 0
    layers = json.loads(out.read_text())["layers"]
    assert [l["index"] for l in layers] == list(range(1, 7)) and layers[-1]["verdict"] == "collapsed"
    assert (tmp_path / "init.png").stat().st_size > 0
    assert "collapsed = std < 0.1·s₀" in " ".join(capsys.readouterr().out.split())  # thresholds printed
    assert _run(init_stats, argv[:-4] + ["--init", "xavier", "--json", str(out)]) == 0
    assert {l["verdict"] for l in json.loads(out.read_text())["layers"]} == {"healthy"}


def test_the_dropout_prescription_always_lowers_the_rate():
    """A net held back by dropout gets 0.1 when its rate is above 0.1, and half its largest rate when
    it is already ≤ 0.1 (a prescription never 'lowers' a rate to the value it has)."""
    from trainwell.doctor.prescribe import regularizer_fix

    def subject(model):
        return SimpleNamespace(kind="recipe", recipe=SimpleNamespace(model=model))

    heavy = regularizer_fix(subject({"name": "mlp", "dropout": {"name": "vanilla_dropout", "p": 0.5},
                                     "layer": {"name": "dropconnect", "p": 0.3}}), "dropout", 0.5)
    assert heavy.edits == {"model.dropout.p": 0.1, "model.layer.p": 0.1} and "p=0.1" in heavy.code
    mild = regularizer_fix(subject({"name": "mlp", "dropout": {"name": "vanilla_dropout", "p": 0.1},
                                    "layer": {"name": "dropconnect", "p": 0.1}}), "dropout", 0.1)
    assert mild.edits == {"model.dropout.p": 0.05, "model.layer.p": 0.05} and "p=0.05" in mild.code
    mixed = regularizer_fix(subject({"name": "convnet", "head_dropout": 0.08}), "dropout", 0.08)
    assert mixed.edits == {"model.head_dropout": 0.04}
