"""The lectures' initialization experiment: the exact verdicts (seeded), closed-form stds of
the first layer (statistical, stated tolerance), record shape."""
import json
import math

import pytest

from trainwell.diagnostics.init_stats import init_stats, layer_verdict


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
    assert layer_verdict(0.5, "tanh", 0.51, 1.0) == "saturated"
    assert layer_verdict(0.5, "tanh", 0.5, 1.0) == "healthy"
    assert layer_verdict(0.099, "relu", None, 1.0) == "collapsed"
    assert layer_verdict(10.1, "relu", None, 1.0) == "exploded"
    with pytest.raises(ValueError, match="tanh"):
        init_stats(act="tahn")
