"""Every registry in one list, for `trainwell list` and for docs."""
from __future__ import annotations

import importlib

from trainwell.registry import Registry

# (module, attribute) of each registry, in the order `trainwell list` prints them
REGISTRIES = [
    ("trainwell.data.sources", "DATASETS"),
    ("trainwell.preprocess.registry", "PREPROCESSORS"),
    ("trainwell.models.registry", "MODELS"),
    ("trainwell.nn.registry", "ACTIVATIONS"),
    ("trainwell.nn.registry", "INITS"),
    ("trainwell.nn.registry", "NORMS"),
    ("trainwell.nn.registry", "REGULARIZERS"),
    ("trainwell.nn.losses", "LOSSES"),
    ("trainwell.optim.registry", "OPTIMIZERS"),
    ("trainwell.optim.registry", "SCHEDULES"),
    ("trainwell.augment.registry", "AUGMENTATIONS"),
    ("trainwell.augment.registry", "MIXERS"),
    ("trainwell.augment.tta", "TTA_VIEWS"),
    ("trainwell.experiments.registry", "EXPERIMENTS"),
]


def registries() -> list[Registry]:
    out = []
    for module, attr in REGISTRIES:
        reg = getattr(importlib.import_module(module), attr, None)
        if reg is not None:
            out.append(reg)
    return out
