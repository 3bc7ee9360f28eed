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
