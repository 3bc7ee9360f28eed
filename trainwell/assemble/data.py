"""A recipe's data and device: load, subset, fit preprocessing on the training split, move to the device.

    >>> data, pipeline = prepare_data(recipe, pick_device("auto"))
    >>> data.x_train.device, pipeline.state_dict()
"""
from __future__ import annotations

import torch

from trainwell.config import Recipe
from trainwell.data import DataBundle, load_data
from trainwell.errors import UserError
from trainwell.preprocess import Pipeline, build_pipeline


def pick_device(name: str) -> torch.device:
    """"auto" → CUDA when available, else CPU; or a device name ("cpu", "cuda:1")."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"train.device={name!r} but CUDA is not available here; use \"auto\" or \"cpu\"")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise UserError(f"train.device={name!r} is not a device ({exc})") from exc


def load_recipe_data(recipe: Recipe) -> DataBundle:
    """The recipe's data BEFORE preprocessing: its splits (seeded) and `train_subset`."""
    d = recipe.data
    data = load_data(d.name, d.path, label_column=d.label_column, val_fraction=d.val_fraction,
                     test_fraction=d.test_fraction, seed=recipe.seed, layout=d.layout, shape=d.shape,
                     size=d.size, channels=d.channels, coarse_labels=d.coarse_labels)
    if d.train_subset is not None and d.train_subset < len(data.x_train):
        keep = torch.randperm(len(data.x_train), generator=torch.Generator().manual_seed(recipe.seed + 5))[: d.train_subset]
        data.x_train, data.y_train = data.x_train[keep], data.y_train[keep]
    return data


def preprocess(data: DataBundle, specs: list) -> tuple[DataBundle, Pipeline]:
    """Fit the preprocessing pipeline on the training split only and apply it to every split."""
    pipeline = build_pipeline(specs)
    pipeline.fit(data.x_train)
    data.x_train, data.x_val, data.x_test = (pipeline.transform(t) for t in (data.x_train, data.x_val, data.x_test))
    return data, pipeline


def prepare_data(recipe: Recipe, device: torch.device) -> tuple[DataBundle, Pipeline]:
    """Load the data, fit preprocessing on the training split only, apply it to all splits, move them."""
    data, pipeline = preprocess(load_recipe_data(recipe), recipe.data.preprocess)
    return data.to(device), pipeline


__all__ = ["load_recipe_data", "pick_device", "prepare_data", "preprocess"]
