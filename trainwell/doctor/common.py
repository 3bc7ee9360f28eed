"""Helpers the doctor's checks share: raw data, a regularization-free copy of the model, subsets."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from trainwell.config import Recipe
from trainwell.data import DataBundle
from trainwell.nn.kinds import is_batchnorm


@dataclass
class Prepared:
    """What the doctor examines: the recipe, its preprocessed data, the fitted pipeline, a model, the device."""

    recipe: Recipe
    data: DataBundle
    pipeline: Any
    model: nn.Module
    device: torch.device


def prepare(recipe: Recipe) -> Prepared:
    """The recipe's data (preprocessing fitted on train) and freshly initialized model."""
    from trainwell.assemble import model_for
    from trainwell.assemble import prepare as prepare_run_data

    data, device = prepare_run_data(recipe)
    b = data.bundle
    model = model_for(recipe, b.input_shape, b.num_classes, example_batch=b.x_train[:512].cpu()).to(device)
    return Prepared(recipe, b, data.pipeline, model, device)


def load_raw(recipe: Recipe) -> DataBundle:
    """The recipe's data BEFORE preprocessing: the same splits and `train_subset` as
    `trainwell.assemble.prepare_data`, so statistics can be refitted and compared."""
    from trainwell.assemble import load_recipe_data

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
