"""Fault: torch.tanh called as a function in a deep net with N(0, 1) weights: every layer saturates."""
import torch
from torch import nn

from _common import digits

FAULT = "activations_saturated"


class Net(nn.Module):
    def __init__(self, depth: int = 6, width: int = 256):
        super().__init__()
        self.hidden = nn.ModuleList([nn.Linear(64 if i == 0 else width, width) for i in range(depth)])
        self.out = nn.Linear(width, 10)
        for layer in self.hidden:
            nn.init.normal_(layer.weight, std=1.0)

    def forward(self, x):
        for layer in self.hidden:
            x = torch.tanh(layer(x))
        return self.out(x)


def make():
    train, val = digits()
    torch.manual_seed(0)
    model = Net()
    return {"model": model, "train": train, "val": val, "loss": nn.CrossEntropyLoss(),
            "optimizer": torch.optim.Adam(model.parameters(), lr=1e-3)}
