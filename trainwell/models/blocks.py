"""The layer pattern every builder uses: linear/conv → norm → activation → dropout."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from trainwell.errors import UserError
from trainwell.models.layers import make_dropout
from trainwell.nn.registry import ACTIVATIONS, NORMS
from trainwell.registry import Spec

POOLS = {("max", 1): nn.MaxPool1d, ("max", 2): nn.MaxPool2d, ("avg", 1): nn.AvgPool1d, ("avg", 2): nn.AvgPool2d}


def per_layer(value: Any, n: int, key: str) -> list[Any]:
    """Broadcast a scalar option to n layers, or check a list has n entries."""
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise UserError(f"model.{key} has {len(value)} entries but the model has {n} layers")
        return list(value)
    return [value] * n


def block(
    prefix: str,
    index: int,
    layer: nn.Module,
    width: int,
    dims: int,
    norm: Spec,
    activation: Spec,
    dropout: float | Spec | None,
) -> list[tuple[str, nn.Module]]:
    """Named children for one block; names read well in diagnostics (conv1, norm1, act1, drop1)."""
    children: list[tuple[str, nn.Module]] = [(f"{prefix}{index}", layer)]
    norm_name = norm if isinstance(norm, str) else norm.get("name")
    if norm_name not in (None, "none"):
        children.append((f"norm{index}", NORMS.build(norm, num_features=width, dims=dims)))
    children.append((f"act{index}", ACTIVATIONS.build(activation, num_features=width)))
    drop = make_dropout(dropout, dims)
    if drop is not None:
        children.append((f"drop{index}", drop))
    return children


def check_widths(widths: Sequence[int], key: str) -> None:
    if not widths or any((not isinstance(w, int)) or w < 1 for w in widths):
        raise UserError(f"model.{key} must be a non-empty list of positive integers, got {widths!r}")
