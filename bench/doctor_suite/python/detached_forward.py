"""Fault: forward() detaches the hidden features, so the first layers get no gradient."""
import torch
import torch.nn.functional as F
from torch import nn

from _common import digits

FAULT = "frozen_parameters"


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.out = nn.Linear(64, 128), nn.Linear(128, 128), nn.Linear(128, 10)

    def forward(self, x):
        h = F.relu(self.fc2(F.relu(self.fc1(x))))
        return self.out(h.detach())


def make():
    train, val = digits()
    torch.manual_seed(0)
    model = Net()
    return {"model": model, "train": train, "val": val, "loss": nn.CrossEntropyLoss(),
            "optimizer": torch.optim.Adam(model.parameters(), lr=1e-3)}
