"""Fault: F.relu network whose hidden biases start at -5: most ReLUs never fire (no activation modules)."""
import torch
import torch.nn.functional as F
from torch import nn

from _common import digits

FAULT = "dead_units"


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.out = nn.Linear(64, 128), nn.Linear(128, 128), nn.Linear(128, 10)
        for layer in (self.fc1, self.fc2):
            nn.init.constant_(layer.bias, -5.0)

    def forward(self, x):
        return self.out(F.relu(self.fc2(F.relu(self.fc1(x)))))


def make():
    train, val = digits()
    torch.manual_seed(0)
    model = Net()
    return {"model": model, "train": train, "val": val, "loss": nn.CrossEntropyLoss(),
            "optimizer": torch.optim.Adam(model.parameters(), lr=1e-3)}
