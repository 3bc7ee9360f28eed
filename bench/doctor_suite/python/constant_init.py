"""Fault: every weight initialized to the same constant (symmetric units)."""
import torch
from torch import nn

from _common import digits, mlp

FAULT = "symmetric_init"


def make():
    train, val = digits()
    model = mlp()
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.constant_(m.weight, 0.01)
            nn.init.zeros_(m.bias)
    return {"model": model, "train": train, "val": val, "loss": nn.CrossEntropyLoss(),
            "optimizer": torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)}
