"""Per-layer statistics of 2 shards merged == the statistics of the whole batch (`merge_records`).

The two halves of a batch are captured by `LayerStats` as two processes of a data-parallel run
would (same weights, each half's own mean loss) and merged; the reference is one capture of the
whole batch with its mean loss. Mean, std, range, saturated fraction and activation-gradient
moments must agree to float32 rounding (rtol 1e-4); dead_frac must be an upper bound of the whole
batch's; histograms must keep their total and lie within one bin of the whole batch's (L1 distance
of the normalized histograms ≤ 0.25; a bin shift of a whole histogram would give up to 2).
"""
import pytest
import torch
from torch import nn

from trainwell.diagnostics import LayerStats
from trainwell.diagnostics.merge import merge_records


def capture(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict:
    stats = LayerStats(model, every=1, bins=20, hist_samples=None)
    stats.start(0)
    model.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    stats.after_backward()
    record = stats.finish()
    stats.close()
    return record


def test_two_halves_merge_to_the_whole_batch():
    gen = torch.Generator().manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 32), nn.Tanh(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 3))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.8)
    x = torch.randn(64, 6, generator=gen) * 2.0 + 0.5
    y = torch.randint(0, 3, (64,), generator=gen)
    whole = capture(model, x, y)
    first = capture(model, x[:32], y[:32])
    merged = merge_records([first, capture(model, x[32:], y[32:])])
    assert merged["processes"] == 2
    for w, m in zip(whole["layers"], merged["layers"], strict=True):
        assert w["name"] == m["name"] and w["numel"] == m["numel"]
        assert {"mean", "std", "lo", "hi", "grad_mean", "grad_std"} <= w.keys(), w["name"]  # compared on every layer
        for key in ("mean", "std", "lo", "hi", "saturated_frac", "grad_mean", "grad_std"):
            if key in w:
                assert m[key] == pytest.approx(w[key], rel=1e-4, abs=1e-7), (w["name"], key)
        if "dead_frac" in w:
            assert m["dead_frac"] >= w["dead_frac"]
        assert sum(m["hist"]) == sum(w["hist"])
        distance = sum(abs(a - b) for a, b in zip(m["hist"], w["hist"])) / sum(w["hist"])
        assert distance <= 0.25, (w["name"], distance)
    assert any(l.get("saturated_frac", 0) > 0 for l in whole["layers"])  # the exact merge was exercised
    assert any("dead_frac" in l for l in whole["layers"])  # and the upper bound (the ReLU)
    assert merged["params"] is first["params"]  # rank 0's (equal in every process of a DDP run)


def test_one_record_is_returned_as_it_is():
    record = {"step": 0, "phase": "train", "layers": [], "params": []}
    assert merge_records([record]) is record
