"""Fault: BatchNorm layers trained with a DataLoader of batch size 2."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from _common import digits

FAULT = "batchnorm_small_batch"


def make():
    (x, y), val = digits()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Linear(128, 128), nn.BatchNorm1d(128),
                          nn.ReLU(), nn.Linear(128, 10))
    loader = DataLoader(TensorDataset(x, y), batch_size=2, shuffle=True, generator=torch.Generator().manual_seed(0))
    return {"model": model, "train": loader, "val": val, "loss": nn.CrossEntropyLoss(),
            "optimizer": torch.optim.Adam(model.parameters(), lr=1e-3)}
