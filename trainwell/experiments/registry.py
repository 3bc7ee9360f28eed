"""Experiments by name: `trainwell experiment NAME`. Each entry is 'module:function'.

Functions take (quick: bool, progress: bool, out_dir) keyword arguments and return an
`ExperimentResult`. Modules are imported only when the experiment runs.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable

from trainwell.registry import Registry

EXPERIMENTS = Registry("experiment")


def _lazy(target: str) -> Callable:
    module, function = target.split(":")

    def run(**kwargs):
        return getattr(importlib.import_module(module), function)(**kwargs)

    run.__doc__ = f"runs {target}"
    return run


EXPERIMENTS.add("regularization", _lazy("trainwell.experiments.regularization:run"),
                "dropout/L2/augmentation/mixup/label smoothing shrink the train−val gap on a small training set")
