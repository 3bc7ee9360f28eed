"""Regularizing layers and losses, gathered; their registry `REGULARIZERS` (for `trainwell list`)
is defined in trainwell.nn.registry with the other nn registries and re-exported here.

Each lives in its own file; this module gathers them:

| name              | part                              | file                 |
|-------------------|-----------------------------------|----------------------|
| dropout           | inverted dropout (p = drop prob.) | dropout.py           |
| vanilla_dropout   | dropout with test-time scaling    | dropout.py           |
| inverted_dropout  | dropout with train-time scaling   | dropout.py           |
| spatial_dropout   | drop whole channels               | dropout.py           |
| dropconnect       | DropConnect Linear                | dropconnect.py       |
| dropconnect_conv  | DropConnect Conv1d/2d             | dropconnect.py       |
| dropblock         | DropBlock 1-D/2-D                 | dropblock.py         |
| drop_path         | stochastic depth per example      | drop_path.py         |
| fractional_max    | fractional max pooling 2-D        | fractional_pool.py   |
| label_smoothing   | label-smoothed cross entropy      | label_smoothing.py   |

All random layers take `generator=` (or have a `.generator` attribute the trainer sets); with
None they fall back to torch's default RNG. L1/L2/elastic-net penalties live in
`trainwell.optim`; Cutout/Mixup/CutMix in `trainwell.augment`.
"""
from __future__ import annotations

from trainwell.nn.drop_path import DropPath, ResidualBlock, drop_path, drop_path_rates
from trainwell.nn.dropblock import DropBlock, block_gamma, drop_block, expand_seeds, paper_gamma
from trainwell.nn.dropconnect import DropConnectConv, DropConnectLinear, drop_connect
from trainwell.nn.dropout import (
    InvertedDropout,
    SpatialDropout,
    VanillaDropout,
    inverted_dropout,
    spatial_dropout,
    vanilla_dropout,
)
from trainwell.nn.fractional_pool import FractionalMaxPool2d
from trainwell.nn.label_smoothing import LabelSmoothingCrossEntropy, label_smoothing_cross_entropy
from trainwell.nn.registry import REGULARIZERS

__all__ = [
    "REGULARIZERS",
    "DropPath", "ResidualBlock", "drop_path", "drop_path_rates",
    "DropBlock", "block_gamma", "drop_block", "expand_seeds", "paper_gamma",
    "DropConnectConv", "DropConnectLinear", "drop_connect",
    "InvertedDropout", "SpatialDropout", "VanillaDropout", "inverted_dropout", "spatial_dropout", "vanilla_dropout",
    "FractionalMaxPool2d",
    "LabelSmoothingCrossEntropy", "label_smoothing_cross_entropy",
]
