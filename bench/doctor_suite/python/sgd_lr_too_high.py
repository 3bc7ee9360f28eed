"""Fault: SGD with momentum at lr 3.0 (diverges)."""
import torch
from torch import nn

from _common import digits, mlp

FAULT = "lr_too_high"


def make():
    train, val = digits()
    model = mlp()
    return {"model": model, "train": train, "val": val, "loss": nn.CrossEntropyLoss(),
            "optimizer": torch.optim.SGD(model.parameters(), lr=3.0, momentum=0.9)}
