"""The TOML writer (tomli-w): round trips through tomllib and recipe_from_dict."""
from __future__ import annotations

import math
import tomllib

from trainwell.config import load_recipe, recipe_from_dict, recipe_to_dict
from trainwell.toml_text import dumps, format_value


def _drop_none(value):
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def test_values_round_trip_exactly():
    data = {
        "name": 'odd "name"\\ with\ttabs\nand é',
        "seed": -3,
        "flag": True,
        "floats": [0.1 + 0.2, 1e-300, 5e-324, 1.7976931348623157e308, -0.0, 3.0, 1e16],
        "data": {"preprocess": ["standardize", {"name": "pca", "components": 8}], "path": "C:\\data\\x.npz"},
        "search": {"trials": 4, "space": {"optim.lr": {"dist": "loguniform", "low": 1e-4, "high": 0.1},
                                          "model.widths": {"dist": "choice", "values": [[100, 100], [200]]}}},
        "optim": {"options": {}, "betas": [0.9, 0.999]},
        "augment": {"train": [{"name": "shift", "max_shift": 4}], "mix": {"name": "mixup", "alpha": 0.2}},
        "weird key.with dots": {"x y": 1},
    }
    assert tomllib.loads(dumps(data)) == data
    assert format_value(math.inf) == "inf" and math.isnan(tomllib.loads("v = " + format_value(math.nan))["v"])


def test_recipes_round_trip_through_recipe_from_dict():
    for path in ("recipes/default.toml", "recipes/search_mnist1d_mlp.toml"):
        recipe = load_recipe(path)
        raw = _drop_none(recipe_to_dict(recipe))
        text = dumps(raw, header="written by the test")
        assert text.startswith("# written by the test\n")
        back = recipe_from_dict(tomllib.loads(text), "round trip")
        assert back == recipe
