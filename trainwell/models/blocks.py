"""The layer pattern every builder uses: linear/conv → norm → activation → dropout."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from trainwell.errors import UserError
from trainwell.nn.registry import ACTIVATIONS, NORMS
from trainwell.registry import Spec

CONVS = {1: nn.Conv1d, 2: nn.Conv2d}
POOLS = {("max", 1): nn.MaxPool1d, ("max", 2): nn.MaxPool2d, ("avg", 1): nn.AvgPool1d, ("avg", 2): nn.AvgPool2d}
DROPOUTS = {0: nn.Dropout, 1: nn.Dropout1d, 2: nn.Dropout2d}


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
    dropout: float,
    spatial_dropout: bool = False,
) -> list[tuple[str, nn.Module]]:
    """Named children for one block; names read well in diagnostics (conv1, norm1, act1, drop1)."""
    children: list[tuple[str, nn.Module]] = [(f"{prefix}{index}", layer)]
    norm_name = norm if isinstance(norm, str) else norm.get("name")
    if norm_name not in (None, "none"):
        children.append((f"norm{index}", NORMS.build(norm, num_features=width, dims=dims)))
    children.append((f"act{index}", ACTIVATIONS.build(activation, num_features=width)))
    if dropout:
        if not 0.0 < dropout < 1.0:
            raise UserError(f"model.dropout must be in [0, 1), got {dropout}")
        kind = DROPOUTS[dims if spatial_dropout else 0]
        children.append((f"drop{index}", kind(dropout)))
    return children


def check_widths(widths: Sequence[int], key: str) -> None:
    if not widths or any((not isinstance(w, int)) or w < 1 for w in widths):
        raise UserError(f"model.{key} must be a non-empty list of positive integers, got {widths!r}")
