"""Fault: a ReLU after the last Linear layer (non-negative logits)."""
import torch
from torch import nn

from _common import digits, mlp

FAULT = "output_nonnegative"


def make():
    train, val = digits()
    model = mlp(last_act=nn.ReLU())
    return {"model": model, "train": train, "val": val, "loss": nn.CrossEntropyLoss(),
            "optimizer": torch.optim.Adam(model.parameters(), lr=1e-3)}
