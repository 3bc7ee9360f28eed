"""Fault: the training set is sorted by label and the DataLoader does not shuffle."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from _common import digits, mlp

FAULT = "unshuffled_batches"


def make():
    (x, y), val = digits()
    order = torch.argsort(y, stable=True)
    model = mlp()
    loader = DataLoader(TensorDataset(x[order], y[order]), batch_size=32, shuffle=False)
    return {"model": model, "train": loader, "val": val, "loss": nn.CrossEntropyLoss(),
            "optimizer": torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)}
