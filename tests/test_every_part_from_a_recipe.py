"""Issue bar: every registered part resolves from a recipe and appears in `trainwell list`.

For each entry of each registry we write the recipe keys that use it, build everything
(`trainwell.assemble.from_recipe`) and train 2 steps: the loss must be finite. Losses for other
tasks than classification are trained from Python on data of their task (tests/assemble).
"""
import math

import pytest

from trainwell.catalog import registries
from trainwell.cli import main
from trainwell.config import recipe_from_dict
from trainwell.assemble import from_recipe
from trainwell.assemble.rundir import test_metrics as scores_on_test

SIGNAL = {"data": {"name": "mnist1d", "train_subset": 64, "val_fraction": 0.05},
          "model": {"name": "convnet", "channels": [8, 8]}, "train": {"steps": 2, "batch_size": 16}}
IMAGE = {"data": {"name": "digits", "train_subset": 64, "val_fraction": 0.05},
         "model": {"name": "convnet", "channels": [6, 6]}, "train": {"steps": 2, "batch_size": 16}}
REGULARIZER_USE = {
    "dropout": ("model", {"dropout": {"name": "dropout", "p": 0.3}}),
    "vanilla_dropout": ("model", {"dropout": {"name": "vanilla_dropout", "p": 0.3}}),
    "inverted_dropout": ("model", {"dropout": {"name": "inverted_dropout", "p": 0.3}}),
    "spatial_dropout": ("model", {"dropout": {"name": "spatial_dropout", "p": 0.3}}),
    "dropblock": ("model", {"dropout": {"name": "dropblock", "block_size": 3, "rate": 0.1}}),
    "dropconnect": ("model", {"name": "mlp", "widths": [16], "layer": {"name": "dropconnect", "p": 0.3}}),
    "dropconnect_conv": ("model", {"layer": {"name": "dropconnect", "p": 0.3}}),
    "drop_path": ("model", {"name": "resnet", "channels": [8], "blocks": 2, "drop_path": 0.2}),
    "fractional_max": ("image", {"pool": "fractional_max"}),
    "label_smoothing": ("train", {"label_smoothing": 0.1}),
}
IMAGE_AUGMENTATIONS = {"hflip", "vflip", "random_crop", "random_resized_crop", "color_jitter", "affine", "elastic", "cutout"}


def recipe_for(kind: str, name: str) -> dict:
    base = IMAGE if (kind == "augmentation" and name in IMAGE_AUGMENTATIONS) else SIGNAL
    raw = {k: dict(v) for k, v in base.items()}
    raw["model"] = dict(base["model"])
    if kind == "data set":
        raw["data"]["name"] = name
        if name == "digits":
            raw = {k: dict(v) for k, v in IMAGE.items()}
    elif kind == "preprocessor":
        raw["data"]["preprocess"] = [{"name": name, "k": 8} if name.startswith("pca") else name]
        raw["model"] = {"name": "mlp", "widths": [16]}
    elif kind == "model":
        raw["model"] = {"name": name}
    elif kind in ("activation", "init", "norm"):
        key = {"activation": "activation", "init": "init", "norm": "norm"}[kind]
        raw["model"][key] = name
    elif kind == "regularizer":
        where, patch = REGULARIZER_USE[name]
        if where == "image":
            raw = {k: dict(v) for k, v in IMAGE.items()}
            raw["model"] = {**IMAGE["model"], **patch}
        elif where == "train":
            raw["train"].update(patch)
        elif "name" in patch:
            raw["model"] = dict(patch)
        else:
            raw["model"].update(patch)
    elif kind == "optimizer":
        raw["optim"] = {"name": name, "lr": 0.01}
    elif kind == "schedule":
        required = {"step": {"step_size": 0.5}, "exponential": {"final_factor": 0.1}}
        raw["schedule"] = {"name": name, **required.get(name, {})}
        raw["train"]["steps"] = 8
    elif kind == "augmentation":
        raw["augment"] = {"train": [name]}
    elif kind == "mixer":
        raw["augment"] = {"mix": name}
    elif kind == "tta":
        raw["augment"] = {"tta": name}
    elif kind == "loss":
        raw["train"]["loss"] = name
    return raw


CLASSIFICATION_LOSSES = {"cross_entropy"}
CASES = [(reg.kind, name) for reg in registries() if reg.kind != "experiment" for name in reg.names()
         if reg.kind != "loss" or name in CLASSIFICATION_LOSSES]


@pytest.mark.parametrize("kind, name", CASES, ids=[f"{k}:{n}" for k, n in CASES])
def test_part_trains_from_a_recipe(kind, name):
    recipe = recipe_from_dict(recipe_for(kind, name), f"{kind}:{name}")
    run = from_recipe(recipe)
    state = run.fit()
    assert state.step == recipe.train.steps
    assert math.isfinite(state.metrics["loss"])
    if kind == "tta":
        assert 0.0 <= scores_on_test(run, run.model)["test_accuracy"] <= 1.0


def test_trainwell_list_shows_every_name(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for kind, name in CASES:
        assert name in out, f"{kind} {name} missing from `trainwell list`"


def test_every_registry_is_covered():
    kinds = {reg.kind for reg in registries()}
    assert {"activation", "init", "norm", "regularizer", "optimizer", "schedule", "preprocessor",
            "augmentation", "mixer", "model", "data set"} <= kinds
