"""Fault: the optimizer is given only the last layer's parameters (the rest never trains)."""
import torch
from torch import nn

from _common import digits, mlp

FAULT = "frozen_parameters"


def make():
    train, val = digits()
    model = mlp()
    return {"model": model, "train": train, "val": val, "loss": nn.CrossEntropyLoss(),
            "optimizer": torch.optim.Adam(model[4].parameters(), lr=1e-3)}
