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
                "dropout, L2, augmentation and mixup shrink the train−val gap on a small training set")
EXPERIMENTS.add("ensemble", _lazy("trainwell.experiments.ensemble_members:run"),
                "an ensemble of 5 (mean of probabilities) beats the mean of its members by >= 1 point")
EXPERIMENTS.add("weight-averaging", _lazy("trainwell.experiments.ensemble_averaging:run"),
                "EMA/SWA weights at the end of a short run score at least as well as the raw weights")
EXPERIMENTS.add("transfer", _lazy("trainwell.experiments.transfer_demo:run"),
                "pretrain on MNIST-1D digits 0-4, transfer to 5-9 with 5/20/100 per class vs from scratch")
EXPERIMENTS.add("random-vs-grid", _lazy("trainwell.experiments.search_claims:run_random_vs_grid"),
                "random search beats grid search when only one of two hyperparameters matters")
EXPERIMENTS.add("coarse-to-fine", _lazy("trainwell.experiments.search_claims:run_coarse_to_fine"),
                "coarse→fine stages find a config at least as good as random search with the same total steps")
