"""Fault: the model ends with a softmax and the loss is nn.CrossEntropyLoss (which expects logits)."""
import torch
from torch import nn

from _common import digits, mlp

FAULT = "output_probabilities"


def make():
    train, val = digits()
    model = mlp(last_act=nn.Softmax(dim=1))
    return {"model": model, "train": train, "val": val, "loss": nn.CrossEntropyLoss(),
            "optimizer": torch.optim.Adam(model.parameters(), lr=1e-3)}
