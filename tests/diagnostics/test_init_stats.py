"""The lectures' initialization experiment: the exact verdicts (seeded), closed-form stds of
the first layer (statistical, stated tolerance), record shape."""
import json
import math

import pytest

from trainwell.cli import main
from trainwell.diagnostics.init_stats import DEAD, SATURATED, init_stats, layer_verdict
from trainwell.errors import UserError


def verdicts(**kw):
    return init_stats(depth=10, width=500, batch=1000, seed=0, **kw).verdicts


def test_tanh_small_normal_collapses_in_deep_layers():
    v = verdicts(act="tanh", init="normal", std=0.01)
    assert v[0] == "healthy" and v[2:] == ["collapsed"] * 8


def test_tanh_unit_normal_saturates():
    assert verdicts(act="tanh", init="normal", std=1.0) == ["saturated"] * 10


def test_tanh_xavier_healthy():
    assert verdicts(act="tanh", init="xavier") == ["healthy"] * 10


def test_relu_xavier_collapses_toward_deep_layers_kaiming_does_not():
    v = verdicts(act="relu", init="xavier")
    assert v[:5] == ["healthy"] * 5 and v[6:] == ["collapsed"] * 4
    assert verdicts(act="relu", init="kaiming") == ["healthy"] * 10


def test_batchnorm_rescues_bad_inits():
    assert verdicts(act="tanh", init="normal", std=0.01, norm="batch") == ["healthy"] * 10
    assert verdicts(act="relu", init="xavier", norm="batch") == ["healthy"] * 10


def test_first_layer_std_matches_closed_form():
    # 500k samples, weights drawn once: stated tolerance 3 %.
    # relu, kaiming: z ~ N(0, 2) → std(relu z) = sqrt(1 − 1/π); xavier (square): z ~ N(0, 1) → sqrt(½ − 1/(2π))
    kaiming = init_stats(depth=1, act="relu", init="kaiming").layers[0]
    xavier = init_stats(depth=1, act="relu", init="xavier").layers[0]
    assert kaiming.std == pytest.approx(math.sqrt(1 - 1 / math.pi), rel=0.03)
    assert xavier.std == pytest.approx(math.sqrt(0.5 - 1 / (2 * math.pi)), rel=0.03)
    assert kaiming.mean == pytest.approx(math.sqrt(2) / math.sqrt(2 * math.pi), rel=0.03)
    # tanh, N(0, 0.01²), width 500: z ~ N(0, 0.05); std tanh(z) = 0.2136 (numerical integration)
    tanh = init_stats(depth=1, act="tanh", init="normal", std=0.01).layers[0]
    assert tanh.std == pytest.approx(0.2136, rel=0.03)


def test_json_record_and_backward():
    r = init_stats(depth=3, width=64, batch=128, act="tanh", init="xavier", backward=True, seed=3)
    rec = json.loads(json.dumps(r.to_json()))
    assert [l["index"] for l in rec["layers"]] == [1, 2, 3]
    for layer in rec["layers"]:
        assert {"mean", "std", "verdict", "hist", "grad_mean", "grad_std", "saturated_frac"} <= set(layer)
        assert sum(layer["hist"]) == 64 * 128
        assert layer["grad_std"] > 0
    assert init_stats(depth=3, width=64, batch=128, seed=3).to_json() == init_stats(depth=3, width=64, batch=128, seed=3).to_json()


def test_verdict_rules_table():
    assert layer_verdict(0.5, "tanh", 0.21, 1.0) == "saturated"
    assert layer_verdict(0.5, "tanh", 0.2, 1.0) == "healthy"
    assert layer_verdict(0.05, "sigmoid", 0.21, 1.0) == "saturated"  # saturation is checked first
    assert layer_verdict(0.5, "relu", None, 1.0, dead_frac=0.3) == "dead"
    assert layer_verdict(0.5, "relu", None, 1.0, dead_frac=0.29) == "healthy"
    assert layer_verdict(0.099, "relu", None, 1.0) == "collapsed"
    assert layer_verdict(10.1, "relu", None, 1.0) == "exploded"
    with pytest.raises(ValueError, match="tanh"):
        init_stats(act="tahn")


def _tail_mass(layer):
    """Share of the histogram in its outermost bins (each 1/50 of [min, max])."""
    return (layer.hist[0] + layer.hist[-1]) / sum(layer.hist)


def test_lecture_wide_tanh_with_std_0_05_saturates():
    # The lectures' second setup: 6 layers of 4096, batch 16, W ~ N(0, 0.05²): gain 4096·0.05² ≈ 10.
    result = init_stats(depth=6, width=4096, batch=16, act="tanh", init="normal", std=0.05, seed=0)
    assert result.verdicts == ["saturated"] * 6
    for layer in result.layers:
        assert 0.3 < layer.saturated_frac < 0.45
        assert _tail_mass(layer) > SATURATED  # the histogram piles up at ±1


def test_narrow_tanh_with_std_0_05_is_not_saturated():
    # 10 layers of 500: gain 500·0.05² = 1.25, the std settles near 0.35 and almost nothing reaches the tails.
    result = init_stats(depth=10, width=500, batch=1000, act="tanh", init="normal", std=0.05, seed=0)
    assert result.verdicts == ["healthy"] * 10
    assert max(l.saturated_frac for l in result.layers) <= 0.02
    assert result.layers[-1].std == pytest.approx(0.35, abs=0.02)


def test_saturated_and_collapsed_verdicts_agree_with_the_histograms():
    saturated = init_stats(depth=10, width=500, act="tanh", init="normal", std=1.0, seed=0)
    healthy = init_stats(depth=10, width=500, act="tanh", init="xavier", seed=0)
    collapsed = init_stats(depth=10, width=500, act="tanh", init="normal", std=0.01, seed=0)
    assert all(_tail_mass(l) > 0.8 for l in saturated.layers)
    assert all(_tail_mass(l) < 0.06 for l in healthy.layers)  # 5 % at layer 1 (bins |y| > 0.96), then < 0.3 %
    for layer in collapsed.layers[2:]:  # the whole histogram lies within ±0.1·s₀
        assert layer.verdict == "collapsed" and max(-layer.lo, layer.hi) < 0.1 * collapsed.input_std


def test_sigmoid_unit_normal_saturates():
    assert verdicts(act="sigmoid", init="normal", std=1.0) == ["saturated"] * 10


def test_deep_kaiming_relu_dies():
    # At depth 50 the mean of the (non-negative) ReLU inputs dominates and units in deep layers
    # stop firing for every example: ≥ 30 % of them from layer ~30 on.
    result = init_stats(depth=50, width=500, batch=1000, act="relu", init="kaiming", seed=0)
    v = result.verdicts
    assert v[:25] == ["healthy"] * 25 and v[-10:].count("dead") >= 8
    for layer in result.layers:
        assert (layer.verdict == "dead") == (layer.dead_frac >= DEAD)
    # LeakyReLU passes a gradient everywhere: never "dead"
    assert "dead" not in init_stats(depth=50, width=500, act="leaky_relu", init="kaiming", seed=0).verdicts


@pytest.mark.parametrize("std", [float("nan"), float("inf"), -0.01])
def test_bad_std_is_a_user_error(std, capsys):
    with pytest.raises(UserError, match="std"):
        init_stats(depth=2, width=8, std=std)
    assert main(["init-stats", "--depth", "2", "--width", "8", "--std", str(std)]) == 2
    assert "std" in capsys.readouterr().err


def test_zero_std_is_the_lectures_constant_init():
    # W = 0: every unit computes tanh(0) = 0 — collapsed, not an error
    assert init_stats(depth=3, width=8, batch=16, act="tanh", init="normal", std=0.0).verdicts == ["collapsed"] * 3
