"""`choose_engine`: the documented rule, case by case, and agreement with what train_many runs."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from trainwell.vectorized import Choice, choose_engine, train_many
from trainwell.vectorized.choose import vectorized_engine


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 3))


def convnet():
    return nn.Sequential(nn.Unflatten(1, (1, 8)), nn.Conv1d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool1d(2),
                         nn.Flatten(), nn.Linear(16, 3))


def layernorm_mlp():
    return nn.Sequential(nn.Linear(8, 16), nn.LayerNorm(16), nn.ReLU(), nn.Linear(16, 3))


def conv_layernorm():
    return nn.Sequential(nn.Conv1d(1, 4, 3), nn.LayerNorm(6), nn.Flatten(), nn.Linear(24, 3))


def batchnorm_mlp():
    return nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))


@pytest.mark.parametrize("make, engine", [(mlp, "mlp"), (convnet, "batched"), (layernorm_mlp, "vmap")])
def test_the_engine_named_is_the_one_train_many_runs(make, engine):
    assert vectorized_engine(make(), 2) == engine
    x, y = torch.randn(16, 8), torch.arange(16) % 3
    r = train_many(lambda g: make(), [{"seed": 0, "lr": 1e-3}, {"seed": 1, "lr": 1e-3}], x, y, steps=1, batch_size=8)
    assert r.engine == engine


@pytest.mark.parametrize(
    "make, k, device, vectorize, engine",
    [
        (mlp, 1, "cpu", False, "trainer"),  # rule 1
        (batchnorm_mlp, 8, "cpu", False, "trainer"),  # rule 2
        (batchnorm_mlp, 8, "cuda", False, "trainer"),
        (mlp, 2, "cuda", True, "mlp"),  # rule 3
        (convnet, 32, "cuda", True, "batched"),
        (layernorm_mlp, 32, "cuda", True, "vmap"),
        (mlp, 2, "cpu", True, "mlp"),  # rule 4
        (mlp, 32, "cpu", True, "mlp"),
        (convnet, 8, "cpu", False, "trainer"),  # rule 5: a ConvNet below K = 16
        (convnet, 15, "cpu", False, "trainer"),
        (convnet, 16, "cpu", True, "batched"),  # rule 5: from K = 16
        (convnet, 32, "cpu", True, "batched"),
        (conv_layernorm, 32, "cpu", False, "trainer"),  # rule 5: a ConvNet only vmap runs
        (layernorm_mlp, 2, "cpu", True, "vmap"),
        (conv_layernorm, 8, "cpu", False, "trainer"),  # a convolution decides, whatever the engine
        (mlp, 32, "meta", False, "trainer"),  # rule 6: a device the rule has no measurement for
    ],
)
def test_the_rule(make, k, device, vectorize, engine):
    c = choose_engine(make(), k, torch.device(device), 100)
    assert (c.vectorize, c.engine) == (vectorize, engine), c.reason
    assert f"K = {k}" in c.reason and c.reason == choose_engine(make(), k, device, 100).reason  # deterministic


def test_reasons_name_the_cause():
    assert "BatchNorm1d" in choose_engine(batchnorm_mlp(), 8, "cpu", 100).reason
    assert "nothing to batch" in choose_engine(mlp(), 1, "cpu", 100).reason
    assert "ConvNet on a CPU" in choose_engine(convnet(), 8, "cpu", 100).reason
    assert choose_engine(mlp(), 4, "cpu", 100) == choose_engine(mlp(), 4, "cpu", 100)
    assert isinstance(choose_engine(mlp(), 4, "cpu", 100), Choice)
