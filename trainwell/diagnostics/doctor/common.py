"""Helpers the doctor's checks share: raw data, a regularization-free copy of the model, subsets."""
from __future__ import annotations

import copy

import torch
from torch import nn

from trainwell.config import Recipe
from trainwell.data import DataBundle
from trainwell.nn.kinds import is_batchnorm


def load_raw(recipe: Recipe) -> DataBundle:
    """The recipe's data BEFORE preprocessing: the same splits and `train_subset` as
    `trainwell.train.run.prepare_data`, so statistics can be refitted and compared."""
    from trainwell.train.run import load_recipe_data

    return load_recipe_data(recipe)


def regularization_off(model: nn.Module) -> nn.Module:
    """A copy of `model` with every stochastic regularizer off but BatchNorm as in training.

    The copy is put in eval mode — dropout, DropConnect, DropBlock, drop-path return their input —
    and only its BatchNorm layers are switched back to training mode, so they normalize with the
    batch's statistics exactly as the first training step will. The caller's model is untouched.
    """
    net = copy.deepcopy(model)
    net.eval()
    for module in net.modules():
        if is_batchnorm(module):
            module.train()
    return net


def first(x: torch.Tensor, y: torch.Tensor, n: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The first n examples (the training split is already shuffled by its seeded split)."""
    if n is None or n >= len(x):
        return x, y
    return x[:n], y[:n]


def device_of(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")
