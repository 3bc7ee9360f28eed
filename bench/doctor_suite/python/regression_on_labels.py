"""Fault: one output and MSE against the class index (classes treated as numbers)."""
import torch
import torch.nn.functional as F
from torch import nn

from _common import digits

FAULT = "loss_mismatch"


def make():
    train, val = digits()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 1))
    return {"model": model, "train": train, "val": val,
            "loss": lambda out, y: F.mse_loss(out.squeeze(1), y.float()),
            "optimizer": torch.optim.Adam(model.parameters(), lr=1e-3)}
