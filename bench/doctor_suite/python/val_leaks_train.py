"""Fault: the validation set is made of training examples (a copy-paste of the split)."""
import torch
from torch import nn

from _common import digits, mlp

FAULT = "duplicates_across_splits"


def make():
    (x, y), _ = digits()
    model = mlp()
    return {"model": model, "train": (x, y), "val": (x[:300].clone(), y[:300].clone()), "loss": nn.CrossEntropyLoss(),
            "optimizer": torch.optim.Adam(model.parameters(), lr=1e-3)}
