"""Fixtures for the search tests: a tiny, learnable data set and a recipe over it."""
from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def tiny_npz(tmp_path_factory):
    """600 examples, 8 features, 3 classes from class-dependent Gaussian means (learnable, not trivial)."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=600)
    means = rng.normal(0, 1.0, size=(3, 8))
    x = (means[y] + rng.normal(0, 1.2, size=(600, 8))).astype(np.float32)
    path = tmp_path_factory.mktemp("data") / "tiny.npz"
    np.savez(path, x=x, y=y)
    return path


@pytest.fixture
def tiny_raw(tiny_npz):
    return {
        "name": "tiny",
        "seed": 0,
        "data": {"path": str(tiny_npz), "val_fraction": 0.25, "test_fraction": 0.2, "preprocess": ["standardize"]},
        "model": {"name": "mlp", "widths": [16]},
        "optim": {"name": "adam", "lr": 1e-2, "weight_decay": 0.0},
        "schedule": {"name": "constant"},
        "train": {"steps": 60, "batch_size": 32, "device": "cpu"},
        "search": {
            "strategy": "random", "trials": 4, "steps": 60,
            "space": {"optim.lr": {"dist": "loguniform", "low": 1e-3, "high": 1e-1}},
        },
    }
