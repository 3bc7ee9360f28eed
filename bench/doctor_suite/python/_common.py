"""Plain PyTorch + scikit-learn helpers of the suite's Python setups (no trainwell): sklearn's 8×8
digits as tensors, split 80/20 with a fixed seed, and a small MLP."""
import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn


def digits(standardize: bool = True, scale: float = 1.0):
    """(x_train, y_train), (x_val, y_val): 1437 / 360 examples of 64 pixels (0..16 · scale)."""
    data = load_digits()
    x = data.data.astype(np.float32) * scale
    y = data.target.astype(np.int64)
    perm = np.random.default_rng(0).permutation(len(x))
    x, y = x[perm], y[perm]
    n = int(0.8 * len(x))
    x_tr, x_va = x[:n], x[n:]
    if standardize:
        mean, std = x_tr.mean(0), x_tr.std(0) + 1e-6
        x_tr, x_va = (x_tr - mean) / std, (x_va - mean) / std
    t = torch.from_numpy
    return (t(x_tr), t(y[:n])), (t(x_va), t(y[n:]))


def mlp(width: int = 128, last_act: nn.Module | None = None) -> nn.Sequential:
    torch.manual_seed(0)
    layers = [nn.Linear(64, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 10)]
    if last_act is not None:
        layers.append(last_act)
    return nn.Sequential(*layers)
