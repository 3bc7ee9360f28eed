"""report.html: every metric of the task (never accuracy on a regression), LR, gradient norm,
per-layer statistics, the summary; log axes only for finite positive values."""
from __future__ import annotations

import math
import re

import matplotlib.pyplot as plt
import pytest
import torch
from torch import nn

import trainwell
from trainwell.cli import main
from trainwell.report.run_report import curve_figures, summary_rows
from trainwell.report.stats_plots import stats_figures

STATS_PNGS = ["stats_act_mean.png", "stats_act_std.png", "stats_dead_saturated.png", "stats_grad_norm.png",
              "stats_update_ratio.png"]


def images_of(page: str) -> list[str]:
    return re.findall(r'<img src="([^"]+)"', page)


def test_classification_report(classification_run):
    page = (classification_run / "report.html").read_text()
    assert images_of(page) == ["loss.png", "accuracy.png", "lr.png", "grad_norm.png", *STATS_PNGS]
    for name in images_of(page):
        assert (classification_run / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "weights: best (validation val_accuracy at step" in page       # which weights gave the test figure
    assert "classification (integer labels, one per example → classification)" in page   # the task and why


def test_regression_report_has_every_regression_metric_and_no_accuracy(tmp_path, capsys):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 4, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1 * torch.randn(256, generator=g)
    run = tmp_path / "reg"
    trainwell.fit(nn.Linear(4, 1), (x[:160], y[:160]), (x[160:208], y[160:208]), test=(x[208:], y[208:]), steps=30,
                  batch_size=32, log_every=5, eval_every=10, lr=0.05, progress=False, verbose=False, run_dir=run)
    assert main(["report", str(run)]) == 0
    assert capsys.readouterr().out.strip() == str(run / "report.html")
    page = (run / "report.html").read_text()
    assert images_of(page) == ["loss.png", "mse.png", "rmse.png", "mae.png", "r2.png", "lr.png"]
    assert "accuracy" not in page and not (run / "accuracy.png").exists()
    assert "regression (real-valued targets → regression)" in page
    assert re.search(r"test</td><td>mse [0-9.e-]+ · rmse [0-9.e-]+ · mae [0-9.e-]+ · r2 [0-9.e-]+ · loss", page)


def test_log_axes_only_for_finite_positive_values():
    nan, inf = float("nan"), float("inf")
    records = [
        {"split": "train", "step": 10, "loss": 2.0, "r2": -0.5, "mse": 1.0, "lr": 0.1, "grad_norm": 3.0},
        {"split": "train", "step": 20, "loss": 0.5, "r2": 0.3, "mse": 0.0, "lr": 0.0, "grad_norm": 1.0},
        {"split": "train", "step": 30, "loss": inf, "r2": nan, "mse": nan, "lr": 0.05, "grad_norm": nan},
        {"split": "val", "step": 20, "loss": 0.6, "r2": 0.2, "mse": 0.5},
    ]
    figures = curve_figures(records, task="regression")
    try:
        assert list(figures) == ["loss.png", "r2.png", "mse.png", "lr.png", "grad_norm.png"]
        scale = {name: fig.axes[0].get_yscale() for name, fig in figures.items()}
        assert scale == {"loss.png": "log", "r2.png": "linear", "mse.png": "linear", "lr.png": "linear",
                         "grad_norm.png": "log"}
        loss_ax = figures["loss.png"].axes[0]
        drawn = [v for line in loss_ax.lines for v in line.get_ydata() if not math.isnan(v)]
        assert sorted(drawn) == [0.5, 0.6, 2.0]                 # inf not drawn ...
        assert any("not finite (not drawn) at step 30" in t.get_text() for t in loss_ax.texts)  # ... but named
        assert loss_ax.get_ylabel() == "loss (MSE)"
        mse = [v for line in figures["mse.png"].axes[0].lines for v in line.get_ydata() if not math.isnan(v)]
        assert sorted(mse) == [0.0, 0.5, 1.0]                   # 0 shown on a linear axis
    finally:
        for fig in figures.values():
            plt.close(fig)


def test_stats_figures_log_axes_and_undefined_ratios():
    def record(step, std, ratio):
        return {"step": step, "phase": "train",
                "layers": [{"name": "0", "type": "Linear", "mean": 0.1, "std": std},
                           {"name": "1", "type": "ReLU", "mean": 0.2, "std": 0.5, "dead_frac": 0.25}],
                "params": [{"name": "0.weight", "grad_norm": 0.1, "weight_norm": 1.0, "update_ratio": ratio},
                           {"name": "0.bias", "grad_norm": 0.0, "weight_norm": 0.0, "update_ratio": 1e35}]}

    records = [record(0, 1.0, 1e-3), record(10, 0.0, 2e-3), record(20, float("nan"), 4e-3),
               {"step": 20, "phase": "eval", "layers": [], "params": []}]
    figures = stats_figures(records)
    try:
        assert list(figures) == STATS_PNGS
        std_ax = figures["stats_act_std.png"].axes[0]
        assert std_ax.get_yscale() == "log"
        first = dict(zip(*std_ax.lines[0].get_data()))
        assert first[0.0] == 1.0 and math.isnan(first[10.0]) and math.isnan(first[20.0])   # 0 and NaN not drawn
        ratio_ax = figures["stats_update_ratio.png"].axes[0]
        labels = [line.get_label() for line in ratio_ax.lines]
        assert "0.weight" in labels and "0.bias" not in labels   # ‖w‖ = 0: undefined, named instead
        assert any("0.bias" in t.get_text() for t in ratio_ax.texts)
        low, high = ratio_ax.get_ylim()
        assert low >= 1e-4 and high <= 1e-2                      # not stretched to 1e35
        grad_ax = figures["stats_grad_norm.png"].axes[0]
        assert [line.get_label() for line in grad_ax.lines] == ["0.weight"]   # a zero norm cannot be drawn on log
        dead = figures["stats_dead_saturated.png"].axes[0]
        assert [line.get_label() for line in dead.lines] == ["1 (ReLU) dead"]
    finally:
        for fig in figures.values():
            plt.close(fig)


def test_summary_rows_say_which_weights_and_why():
    summary = {"status": "done", "task": "classification", "task_reason": "integer labels", "test_accuracy": 0.9512,
               "test_loss": 0.2, "test_weights": "ema (averaged weights, BatchNorm statistics recomputed)",
               "test_final_accuracy": 0.94, "test_final_loss": 0.25, "monitor": "val_accuracy", "best_value": 0.96,
               "best_step": 40, "val_accuracy": 0.95, "val_loss": 0.21, "steps": 100, "epochs": 2.0,
               "train_seconds": 3.21, "device": "cpu", "parameters": 12345}
    rows = dict(summary_rows(summary, ["accuracy", "loss"]))
    assert rows["test"] == "accuracy 95.12 % · loss 0.2 — weights: ema (averaged weights, BatchNorm statistics recomputed)"
    assert rows["test, final weights"] == "accuracy 94.00 % · loss 0.25"
    assert rows["best validation"] == "val_accuracy 96.00 % at step 40"
    assert rows["task"] == "classification (integer labels)"
    assert rows["training"] == "100 steps (2.0 epochs) in 3.2 s on cpu" and rows["model"] == "12,345 parameters"


@pytest.mark.parametrize("content, expected", [
    (bytes(range(256)) * 4, "binary data"),
    (b"\0" * 64, "binary data"),
    (b'[1, 2]\n{"step": 1}\n', "line 1 is a JSON list, not a record"),
    (b'{"split": "train", "loss": 1.0}\n', "record 1 .* has no numeric 'step'"),
    (b'{"split": 3, "step": 1}\n', "'split' that is not a string"),
    (b"not json at all\n{}\n", "line 1 is not JSON"),
])
def test_report_on_a_damaged_metrics_file_is_a_clear_error(tmp_path, capsys, content, expected):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_bytes(content)
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert re.search(expected, err) and str(run / "metrics.jsonl") in err and "Traceback" not in err


def test_report_other_damage_is_a_clear_error(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["report", str(run)]) == 2
    assert "is not a folder" in capsys.readouterr().err
    run.mkdir()
    assert main(["report", str(run)]) == 2
    assert "has no metrics.jsonl" in capsys.readouterr().err
    (run / "metrics.jsonl").write_text('{"split": "train", "step": 1, "loss": 1.0}\n')
    (run / "summary.json").write_bytes(b"\xff\xfe\x00")
    assert main(["report", str(run)]) == 2
    assert "summary.json is not a text file" in capsys.readouterr().err
    (run / "summary.json").write_text("{}")
    (run / "stats.jsonl").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    assert main(["report", str(run)]) == 2
    assert "stats.jsonl is not a text file of JSON lines" in capsys.readouterr().err
    (run / "stats.jsonl").unlink()
    assert main(["report", str(run)]) == 0
    assert images_of((run / "report.html").read_text()) == ["loss.png"]
