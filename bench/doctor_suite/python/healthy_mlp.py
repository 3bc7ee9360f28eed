"""Healthy: an MLP on standardized digits, Adam 1e-3, cross-entropy on logits."""
import torch
from torch import nn

from _common import digits, mlp

FAULT = None


def make():
    train, val = digits()
    model = mlp()
    return {"model": model, "train": train, "val": val, "loss": nn.CrossEntropyLoss(),
            "optimizer": torch.optim.Adam(model.parameters(), lr=1e-3)}
