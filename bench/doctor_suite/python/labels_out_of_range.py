"""Fault: labels 1..10 (1-based) for a model with 10 outputs: label 10 is out of range."""
import torch
from torch import nn

from _common import digits, mlp

FAULT = "labels_out_of_range"


def make():
    (x, y), (xv, yv) = digits()
    model = mlp()
    return {"model": model, "train": (x, y + 1), "val": (xv, yv + 1), "loss": nn.CrossEntropyLoss(),
            "optimizer": torch.optim.Adam(model.parameters(), lr=1e-3)}
