"""Scores of an ensemble from its members' probabilities (pure functions on K×N×C tensors).

    member accuracy_k   = mean_n [argmax_c p_k(n, c) = y_n]
    ensemble accuracy   = mean_n [argmax_c (1/K) Σ_k p_k(n, c) = y_n]
    gain                = ensemble accuracy − mean_k member accuracy_k

`growth` gives the ensemble accuracy of the first k members for k = 1..K (how much each added
member brings; it usually rises fast and flattens).

Example:
    >>> p = torch.tensor([[[0.6, 0.4]], [[0.3, 0.7]], [[0.45, 0.55]]])   # K=3 members, N=1, C=2
    >>> ensemble_scores(p, torch.tensor([1]))["ensemble"]                 # mean p = [0.45, 0.55]
    1.0
"""
from __future__ import annotations

from typing import Any

import torch

from trainwell.errors import UserError


def _check(probs: torch.Tensor, y: torch.Tensor) -> None:
    if probs.ndim != 3:
        raise UserError(f"member probabilities must be K×N×C, got shape {tuple(probs.shape)}")
    if probs.shape[1] != y.shape[0]:
        raise UserError(f"member probabilities cover {probs.shape[1]} examples but there are {y.shape[0]} labels")


@torch.no_grad()
def ensemble_scores(probs: torch.Tensor, y: torch.Tensor) -> dict[str, Any]:
    """{"members": [acc_k], "mean_member", "best_member", "ensemble", "gain"} (fractions in [0, 1])."""
    _check(probs, y)
    y = y.to(probs.device)
    members = (probs.argmax(-1) == y).float().mean(-1)
    ensemble = (probs.mean(0).argmax(-1) == y).float().mean()
    values = torch.cat([members, ensemble[None]]).tolist()  # one transfer
    members_l, ens = values[:-1], values[-1]
    mean_member = sum(members_l) / len(members_l)
    return {"members": members_l, "mean_member": mean_member, "best_member": max(members_l),
            "ensemble": ens, "gain": ens - mean_member}


@torch.no_grad()
def growth(probs: torch.Tensor, y: torch.Tensor) -> list[float]:
    """Accuracy of the ensemble of the first k members, k = 1..K."""
    _check(probs, y)
    y = y.to(probs.device)
    running = probs.cumsum(0)  # the argmax of a sum equals that of the mean
    return (running.argmax(-1) == y).float().mean(-1).tolist()


__all__ = ["ensemble_scores", "growth"]
