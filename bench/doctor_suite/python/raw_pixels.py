"""Fault: raw pixel values on a 0..255 scale, not standardized."""
import torch
from torch import nn

from _common import digits, mlp

FAULT = "inputs_unnormalized"


def make():
    train, val = digits(standardize=False, scale=16.0)
    model = mlp()
    return {"model": model, "train": train, "val": val, "loss": nn.CrossEntropyLoss(),
            "optimizer": torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)}
