"""Fault: three Linear layers stacked without an activation between them (a linear model)."""
import torch
from torch import nn

from _common import digits

FAULT = "no_nonlinearity"


def make():
    train, val = digits()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.Linear(128, 128), nn.Linear(128, 10))
    return {"model": model, "train": train, "val": val, "loss": nn.CrossEntropyLoss(),
            "optimizer": torch.optim.Adam(model.parameters(), lr=1e-3)}
