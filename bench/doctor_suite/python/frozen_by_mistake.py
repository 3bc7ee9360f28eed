"""Fault: the hidden layers were frozen (requires_grad=False), e.g. left over from a fine-tuning script."""
import torch
from torch import nn

from _common import digits, mlp

FAULT = "frozen_parameters"


def make():
    train, val = digits()
    model = mlp()
    for p in list(model[0].parameters()) + list(model[2].parameters()):
        p.requires_grad_(False)
    return {"model": model, "train": train, "val": val, "loss": nn.CrossEntropyLoss(),
            "optimizer": torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)}
