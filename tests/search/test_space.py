"""Spaces: parsing errors, log-spaced grids, log-uniform sampling, narrowing (hand-computed)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from trainwell.errors import UserError
from trainwell.search.sampling import grid_points_per_dim, narrow_dim, sample_points
from trainwell.search.space import parse_space

LR = {"dist": "loguniform", "low": 1e-4, "high": 1e-1}


def test_parse_errors_name_the_field():
    with pytest.raises(UserError, match="dist must be one of.*did you mean \"loguniform\""):
        parse_space({"optim.lr": {"dist": "loguniform_", "low": 1, "high": 2}})
    with pytest.raises(UserError, match="low < high"):
        parse_space({"optim.lr": {"dist": "uniform", "low": 2, "high": 1}})
    with pytest.raises(UserError, match="log scale needs low > 0"):
        parse_space({"optim.lr": {"dist": "loguniform", "low": 0.0, "high": 1}})
    with pytest.raises(UserError, match="not a recipe key.*did you mean \"optim\""):
        parse_space({"optm.lr": LR})
    with pytest.raises(UserError, match="unknown key 'hi'"):
        parse_space({"optim.lr": {"dist": "uniform", "low": 0, "hi": 1}})
    with pytest.raises(UserError, match="non-empty list"):
        parse_space({"model.widths": {"dist": "choice", "values": []}})


def test_grids_hand_table():
    lr, wd, n, drop = parse_space({"optim.lr": LR, "train.batch_size": {"dist": "int", "low": 16, "high": 256, "log": True},
                                   "model.dropout": {"dist": "uniform", "low": 0.0, "high": 0.5},
                                   "optim.weight_decay": {"dist": "choice", "values": [0.0, 1e-4]}})
    # parse_space sorts by name: model.dropout, optim.lr, optim.weight_decay, train.batch_size
    assert [round(v, 12) for v in wd.grid(4)] == [1e-4, 1e-3, 1e-2, 1e-1]
    assert drop.grid(3) == [16, 64, 256]
    assert lr.grid(3) == [0.0, 0.25, 0.5]
    assert n.grid(7) == [0.0, 1e-4]
    assert grid_points_per_dim(parse_space({"optim.lr": LR, "optim.weight_decay": LR}), 16) == 4
    assert grid_points_per_dim(parse_space({"optim.lr": LR, "optim.weight_decay": LR}), 15) == 3


def test_loguniform_puts_equal_mass_per_decade():
    """Statistical (seed 0, 3000 draws): each of the 3 decades gets 1/3 ± 0.03 (≈ 3.5 σ)."""
    space = parse_space({"optim.lr": LR})
    u = np.log10([p["optim.lr"] for p in sample_points(space, 3000, "random", seed=0)])
    assert u.min() >= -4 and u.max() <= -1
    counts = np.histogram(u, bins=[-4, -3, -2, -1])[0] / len(u)
    assert np.all(np.abs(counts - 1 / 3) < 0.03), counts


def test_points_are_a_pure_function_of_the_seed():
    space = parse_space({"optim.lr": LR, "optim.weight_decay": LR})
    assert sample_points(space, 5, "random", 3) == sample_points(space, 5, "random", 3)
    assert sample_points(space, 5, "random", 3) != sample_points(space, 5, "random", 4)
    grid = sample_points(space, 16, "grid", 0)
    assert len(grid) == 16 and len({(p["optim.lr"], p["optim.weight_decay"]) for p in grid}) == 16


def test_narrowing_in_log_space_hand_computed():
    (lr,) = parse_space({"optim.lr": {"dist": "loguniform", "low": 1e-4, "high": 1.0}})
    d = narrow_dim(lr, [1e-3, 1e-2], margin=0.25, min_width=0.0)
    # log10 span [-3, -2] padded by 0.25 on each side: [-3.25, -1.75]
    assert math.log10(d.low) == pytest.approx(-3.25) and math.log10(d.high) == pytest.approx(-1.75)
    # min width 0.5 of the 4 decades = 2 decades, centred on -2.5, then moved inside [-4, 0]
    d = narrow_dim(lr, [10**-2.5], margin=0.25, min_width=0.5)
    assert (math.log10(d.low), math.log10(d.high)) == (pytest.approx(-3.5), pytest.approx(-1.5))
    d = narrow_dim(lr, [1e-4], margin=0.25, min_width=0.5)
    assert (math.log10(d.low), math.log10(d.high)) == (pytest.approx(-4.0), pytest.approx(-2.0))
    (drop,) = parse_space({"model.dropout": {"dist": "uniform", "low": 0.0, "high": 0.5}})
    d = narrow_dim(drop, [0.1, 0.2, 0.15], margin=0.5, min_width=0.0)
    assert (d.low, d.high) == (pytest.approx(0.05), pytest.approx(0.25))
    (w,) = parse_space({"model.widths": {"dist": "choice", "values": [[8], [16], [32]]}})
    assert narrow_dim(w, [[16], [32], [16]]).values == ((16,), (32,))
    (b,) = parse_space({"train.batch_size": {"dist": "int", "low": 16, "high": 256, "log": True}})
    d = narrow_dim(b, [32, 64], margin=0.0, min_width=0.0)
    assert (d.low, d.high) == (32, 64)
