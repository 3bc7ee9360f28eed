"""Hand-computed cases for the doctor's rules (pure functions of numbers and records) and the CLI."""
from __future__ import annotations

import argparse
import json
import math

import torch

from trainwell.doctor.config import DoctorConfig
from trainwell.doctor.data_checks import check_centered_scaled, check_constant, check_fit_on_train
from trainwell.doctor.loss_checks import check_initial_loss, initial_loss
from trainwell.doctor.lr_check import check_lr
from trainwell.doctor.training_checks import check_dead, check_generalization, check_gradient_flow, check_update_ratio
from trainwell.diagnostics.findings import Finding, exit_code
from trainwell.diagnostics.lr_finder import LRFinderResult
from trainwell.preprocess import build_pipeline

CFG = DoctorConfig()


def test_initial_loss_thresholds():
    c = 10
    log_c = math.log(c)
    assert check_initial_loss(log_c * 1.49, c, CFG).status == "pass"
    assert check_initial_loss(log_c * 1.51, c, CFG).status == "warn"
    assert check_initial_loss(log_c * 2.01, c, CFG).status == "fail"
    assert check_initial_loss(log_c * 0.4, c, CFG).status == "warn"
    assert check_initial_loss(float("nan"), c, CFG).status == "fail"


def test_initial_loss_of_zero_logits_is_log_c():
    model = torch.nn.Linear(5, 7)
    torch.nn.init.zeros_(model.weight)
    torch.nn.init.zeros_(model.bias)
    x, y = torch.randn(32, 5), torch.randint(0, 7, (32,))
    assert abs(initial_loss(model, x, y) - math.log(7)) < 1e-6


def test_fit_on_train_distinguishes_train_test_and_all():
    g = torch.Generator().manual_seed(0)
    tr, va, te = (torch.randn(200, 6, generator=g) * s + m for s, m in ((1, 0), (1, 0.1), (2, 1)))
    ok = build_pipeline(["standardize"]).fit(tr)
    assert check_fit_on_train(ok, tr, va, te, CFG).status == "pass"
    on_test = build_pipeline(["standardize"]).fit(te)
    f = check_fit_on_train(on_test, tr, va, te, CFG)
    assert f.status == "fail" and "TEST" in f.message
    on_all = build_pipeline(["standardize"]).fit(torch.cat([tr, va, te]))
    f = check_fit_on_train(on_all, tr, va, te, CFG)
    assert f.status == "fail" and "whole data set" in f.message
    other = build_pipeline(["standardize"]).fit(torch.randn(300, 6, generator=g) * 0.5 - 3)
    assert check_fit_on_train(other, tr, va, te, CFG).status == "warn"


def test_centering_and_constant_features():
    x = torch.randn(500, 4, generator=torch.Generator().manual_seed(1))
    assert [f.status for f in check_centered_scaled(x, CFG, True)] == ["pass", "pass"]
    # mean 0.6 with std 1: |μ| = 0.6 > 0.5·1 → not centered; ×10 → std 10 outside [0.2, 5]
    assert [f.status for f in check_centered_scaled(x + 0.6, CFG, True)] == ["warn", "pass"]
    assert [f.status for f in check_centered_scaled(x * 10, CFG, False)] == ["pass", "warn"]
    x[:, 2] = 3.0
    f = check_constant(x, CFG)
    assert f.status == "warn" and f.numbers["constant_features"] == 1


def sweep(suggestion: float) -> LRFinderResult:
    lrs = [10 ** (-6 + 6 * i / 49) for i in range(50)]
    smoothed = [2.3 - 0.02 * i for i in range(40)] + [1.5 + 0.3 * i for i in range(10)]  # min 1.5 at lrs[40]
    return LRFinderResult(lrs, smoothed, smoothed, suggestion, False)


def test_lr_rule():
    s = 1e-3
    assert check_lr(3e-4, sweep(s), CFG).status == "pass"
    assert check_lr(s / 40, sweep(s), CFG).status == "warn"
    assert check_lr(s / 1000, sweep(s), CFG).status == "fail"
    assert check_lr(s * 20, sweep(s), CFG).status == "warn"
    assert check_lr(s * 200, sweep(s), CFG).status == "fail"
    lr_min = sweep(s).lrs[40]  # smoothed minimum 1.5 at index 40: beyond it the sweep's loss climbs
    f = check_lr(lr_min * 1.01, sweep(lr_min / 5), CFG)
    assert f.status == "warn" and "too high" in f.message


def record(step, layers, params=()):
    return {"step": step, "phase": "train", "layers": layers, "params": list(params)}


def test_dead_gradient_flow_and_update_ratio_from_records():
    relu = lambda name, dead, gstd: {"name": name, "type": "ReLU", "kind": "relu", "std": 1.0, "dead_frac": dead, "grad_std": gstd}  # noqa: E731
    recs = [record(0, [relu("act1", 0.0, 1e-5), relu("act2", 0.1, 1e-2)],
                   [{"name": "fc1.weight", "update_ratio": 3e-5}, {"name": "fc1.bias", "update_ratio": 1.0}]),
            record(10, [relu("act1", 0.75, 1e-5), relu("act2", 0.35, 1e-2)],
                   [{"name": "fc1.weight", "update_ratio": 5e-5}, {"name": "fc1.bias", "update_ratio": 1.0}])]
    dead = {f.layer: f.status for f in check_dead(recs, CFG)}
    assert dead == {"act1": "fail", "act2": "warn"}
    flow = check_gradient_flow(recs, CFG)[0]
    assert flow.status == "warn" and "vanishing" in flow.message and abs(flow.numbers["ratio"] - 1e-3) < 1e-12
    upd = check_update_ratio(recs, {"fc1.weight"}, CFG)  # biases are not judged
    assert len(upd) == 1 and upd[0].status == "warn" and "too low" in upd[0].message
    assert upd[0].numbers["median_update_ratio"]["fc1.weight"] == 4e-5


def test_chance_and_gap():
    # 1/10 + 3·√(0.1·0.9/400) = 0.1 + 0.045
    at_chance = check_generalization({"train_accuracy": 0.2, "val_accuracy": 0.14, "n_val": 400}, 10, CFG)
    assert at_chance[0].status == "fail" and abs(at_chance[0].numbers["chance_upper"] - 0.145) < 1e-12
    gap = check_generalization({"train_accuracy": 0.9, "val_accuracy": 0.6, "n_val": 400}, 10, CFG)
    assert [f.status for f in gap] == ["pass", "warn"]


def test_exit_code_and_json():
    fs = [Finding("a", "pass", None, "ok"), Finding("b", "warn", "fc1", "hm", {"x": float("inf")})]
    assert exit_code(fs) == 0
    assert fs[1].to_json() == {"check": "b", "status": "warn", "layer": "fc1", "message": "hm", "numbers": {"x": None}}
    assert exit_code(fs + [Finding("c", "fail", None, "bad")]) == 1


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


def test_doctor_command_exit_status_and_json(tmp_path):
    from pathlib import Path

    from trainwell.commands import doctor

    recipe = Path(__file__).resolve().parent.parent / "recipes_broken" / "lr_too_low.toml"
    out = tmp_path / "findings.json"
    code = _run(doctor, ["--recipe", str(recipe), "--quick", "--json", str(out), "--out", str(tmp_path / "rep")])
    findings = json.loads(out.read_text())
    assert code == 1  # the LR is 1000× too low: a failed check
    assert all(set(f) == {"check", "status", "layer", "message", "numbers"} for f in findings)
    assert any(f["check"] == "learning_rate" and f["status"] == "fail" for f in findings)
    assert (tmp_path / "rep" / "doctor.html").read_text().count("<img") == 4
