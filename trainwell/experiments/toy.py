"""Toy optimization in two dimensions: trajectories of trainwell's optimizers on a known loss.

Not network training: a single parameter vector w ∈ R² (`Point`) and an explicit loss function of
it, stepped by the optimizer `trainwell.optim.build_optimizer` returns (the torch.optim object of
a registered name) — the pictures of the optimization lectures.

    path = trajectory(lambda w: (w ** 2 * torch.tensor([1.0, 50.0])).sum(), [-1.5, 0.5], "momentum", lr=0.01, steps=100)
    path["x"], path["y"], path["loss"]
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn


class Point(nn.Module):
    """A model whose only parameter is a point w ∈ R² (float64)."""

    def __init__(self, start: Sequence[float]):
        super().__init__()
        self.w = nn.Parameter(torch.tensor([float(v) for v in start], dtype=torch.float64))


def trajectory(loss: Callable[[torch.Tensor, int], torch.Tensor], start: Sequence[float], optimizer: str | dict,
               lr: float, steps: int, label: str = "") -> dict[str, Any]:
    """Step `optimizer` (a registry name or spec) from `start` for `steps` steps on `loss(w, t)`
    (t = the step number, for stochastic losses); the visited points and losses (NaN/Inf stop it)."""
    from trainwell.optim import build_optimizer

    point = Point(start)
    opt = build_optimizer(point, optimizer, lr=lr)
    xs, ys, losses = [], [], []
    for t in range(steps + 1):
        value = loss(point.w, t)
        w = point.w.detach()
        xs.append(float(w[0]))
        ys.append(float(w[1]))
        losses.append(float(value.detach()))
        if not torch.isfinite(value) or t == steps:
            break
        opt.zero_grad()
        value.backward()
        opt.step()
    return {"label": label or (optimizer if isinstance(optimizer, str) else optimizer["name"]), "x": xs, "y": ys,
            "loss": losses, "lr": lr}


def grid(loss: Callable[[torch.Tensor], torch.Tensor], x: Sequence[float], y: Sequence[float]) -> list[list[float]]:
    """loss(w) on the grid: rows follow y, columns x (for a contour plot)."""
    with torch.no_grad():
        return [[float(loss(torch.tensor([a, b], dtype=torch.float64))) for a in x] for b in y]


def linspace(lo: float, hi: float, n: int) -> list[float]:
    return [lo + (hi - lo) * i / (n - 1) for i in range(n)]
