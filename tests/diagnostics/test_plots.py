"""Plots read plain records (from JSON) and write PNG files with the expected content."""
import json

import torch
from torch import nn

from trainwell.diagnostics.init_stats import init_stats
from trainwell.diagnostics.lr_finder import lr_find
from trainwell.report.diagnostics_plots import plot_init_histograms, plot_layer_stats, plot_lr_finder

PNG = b"\x89PNG\r\n\x1a\n"


def test_plots_from_json_records(tmp_path):
    rec = json.loads(json.dumps(init_stats(depth=4, width=32, batch=64, act="tanh", init="normal", std=0.05).to_json()))
    p1 = plot_init_histograms(rec, tmp_path / "init.png")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 4, generator=g)
    batches = [(x, x.sum(1, keepdim=True))]
    lr = lr_find(nn.Linear(4, 1), nn.functional.mse_loss, batches, lambda p: torch.optim.SGD(p, lr=1.0),
                 start_lr=1e-4, end_lr=10, num_steps=40)
    p2 = plot_lr_finder(json.loads(json.dumps(lr.to_json())), tmp_path / "lr.png")
    stats = [{"step": s, "phase": "train",
              "layers": [{"name": "1", "std": 1.0 / (s + 1), "dead_frac": 0.1 * s}],
              "params": [{"name": "0.weight", "update_ratio": 1e-3 * (s + 1)}]} for s in range(3)]
    p3 = plot_layer_stats(stats, tmp_path / "stats.png")
    for p in (p1, p2, p3):
        data = p.read_bytes()
        assert data[:8] == PNG and len(data) > 5000  # a real image, not an empty canvas


def _zero_bias_records(steps=5):
    """Real LayerStats records of an MLP whose biases start at exactly 0 (‖b‖ = 0 at step 0)."""
    from trainwell.diagnostics.capture import LayerStats

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    for m in (model[0], model[2]):
        nn.init.zeros_(m.bias)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(32, 8, generator=g), torch.randint(0, 3, (32,), generator=g)
    records = []
    with LayerStats(model, every=1) as stats:
        for step in range(steps):
            stats.start(step)
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            stats.after_backward()
            opt.step()
            records.append(stats.finish())
    return records


def test_update_ratio_axis_is_finite_with_zero_biases(tmp_path):
    import math

    from trainwell.report.diagnostics_plots import layer_stats_figure

    records = json.loads(json.dumps(_zero_bias_records()))
    first = {p["name"]: p for p in records[0]["params"]}
    assert first["0.bias"]["weight_norm"] == 0 and first["0.bias"]["update_ratio"] > 1e30  # the record's 0/tiny
    defined = [p["update_ratio"] for r in records for p in r["params"] if p["weight_norm"] > 0]
    ax = layer_stats_figure(records).axes[2]
    lines = [l for l in ax.lines if not l.get_label().startswith("_")]  # the 1e-3 rule is '_child…'
    assert [l.get_label() for l in lines] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    for line in lines:
        ys = [float(v) for v in line.get_ydata()]
        assert all(v != v or (math.isfinite(v) and v > 0) for v in ys)
        if "bias" in line.get_label():
            assert ys[0] != ys[0]  # ‖b‖ = 0 at step 0: not drawn
    lo, hi = ax.get_ylim()
    assert 0 < lo and math.isfinite(hi)
    assert lo >= min(min(defined), 1e-3) / 2.01 and hi <= max(defined) * 2.01  # limited to the drawn data
    assert hi < 10
    assert plot_layer_stats(records, tmp_path / "stats.png").read_bytes()[:8] == PNG


def test_update_ratio_axis_ignores_values_a_log_axis_cannot_show():
    import math

    from trainwell.report.diagnostics_plots import layer_stats_figure

    values = [2e-3, float("inf"), float("nan"), 0.0, -1.0, None, 5e-4]
    records = [{"step": s, "phase": "train", "layers": [], "params": [
        {"name": "w", "update_ratio": v, "weight_norm": 1.0},
        {"name": "zero", "update_ratio": 1e35, "weight_norm": 0.0}]} for s, v in enumerate(values)]
    ax = layer_stats_figure(records).axes[2]
    drawn = {l.get_label(): [float(v) for v in l.get_ydata()] for l in ax.lines if not l.get_label().startswith("_")}
    assert list(drawn) == ["w"]  # 'zero' never has a ratio: named in a note, not drawn
    assert [v for v in drawn["w"] if v == v] == [2e-3, 5e-4]
    assert ax.get_ylim() == (5e-4 / 2, 2e-3 * 2)
    assert any("zero" in t.get_text() for t in ax.texts)
    assert all(math.isfinite(v) for v in ax.get_ylim())
