"""Small data for the logger tests: 3 separable blobs (classification) and a linear target (regression)."""
from __future__ import annotations

import numpy as np
import pytest
import torch


@pytest.fixture(scope="module")
def blobs(tmp_path_factory):
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 1, 12)) * 2
    y = rng.integers(0, 3, 240)
    x = (centers[y] + rng.normal(size=(240, 1, 12))).astype(np.float32)
    path = tmp_path_factory.mktemp("data") / "blobs.npz"
    np.savez(path, x=x, y=y)
    return path


@pytest.fixture(scope="session")
def tiny():
    """tiny(npz, log_table, **train keys) → a raw recipe: a small ConvNet on the blobs, 40 steps."""
    return tiny_recipe


def tiny_recipe(npz, log: dict, **train) -> dict:
    return {
        "name": "tiny",
        "data": {"path": str(npz), "val_fraction": 0.2, "preprocess": ["standardize"]},
        "model": {"name": "convnet", "channels": [8, 8], "kernel": 3, "head": "flatten"},
        "optim": {"name": "adamw", "lr": 0.01},
        "schedule": {"name": "cosine", "warmup_fraction": 0.1},
        "train": {"steps": 40, "batch_size": 32, "eval_every": 20, "log_every": 10, **train},
        "log": log,
    }


@pytest.fixture
def regression():
    """(x, y) train and val tensors of y = x·w + noise, 4 features."""
    g = torch.Generator().manual_seed(0)
    w = torch.tensor([1.0, -2.0, 0.5, 3.0])
    x = torch.randn(256, 4, generator=g)
    y = x @ w + 0.1 * torch.randn(256, generator=g)
    return (x[:192], y[:192]), (x[192:], y[192:])

