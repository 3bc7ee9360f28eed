"""Fault: nn.NLLLoss on raw logits (no log_softmax): the loss is unbounded below."""
import torch
from torch import nn

from _common import digits, mlp

FAULT = "loss_mismatch"


def make():
    train, val = digits()
    model = mlp()
    return {"model": model, "train": train, "val": val, "loss": nn.NLLLoss(),
            "optimizer": torch.optim.Adam(model.parameters(), lr=1e-3)}
