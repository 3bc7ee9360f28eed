"""The learnable layer of a block, by name: plain, Maxout, or DropConnect; and the dropout slot.

    layer = "linear" | "conv" (default) | {name = "maxout", k = 2} | {name = "dropconnect", p = 0.3}
    dropout = 0.2  (inverted dropout)  | {name = "dropblock", block_size = 3, rate = 0.1} | {name = "spatial_dropout", p = 0.1} ...

Dropout-like modules come from `trainwell.nn.registry.REGULARIZERS`, so every regularizer listed
by `trainwell list` is usable from a recipe.
"""
from __future__ import annotations

from typing import Any

from torch import nn

from trainwell.errors import UserError
from trainwell.nn.maxout import MaxoutConv, MaxoutLinear
from trainwell.nn.registry import REGULARIZERS
from trainwell.registry import Spec, split_spec

CONVS = {1: nn.Conv1d, 2: nn.Conv2d}
LAYER_KINDS = ("linear", "conv", "maxout", "dropconnect")
DROPOUT_KINDS = ("dropout", "vanilla_dropout", "inverted_dropout", "spatial_dropout", "dropblock")


def make_linear(spec: Spec, d_in: int, d_out: int, bias: bool = True) -> nn.Module:
    name, opts = _layer_spec(spec, "linear")
    if name == "linear":
        _no_options(name, opts)
        return nn.Linear(d_in, d_out, bias=bias)
    if name == "maxout":
        return MaxoutLinear(d_in, d_out, bias=bias, **_only(opts, ("k",), name))
    return REGULARIZERS.build({"name": "dropconnect", **_only(opts, ("p",), name)}, d_in, d_out, bias=bias)


def make_conv(spec: Spec, dims: int, c_in: int, c_out: int, kernel: int, **conv: Any) -> nn.Module:
    name, opts = _layer_spec(spec, "conv")
    if name == "conv":
        _no_options(name, opts)
        return CONVS[dims](c_in, c_out, kernel, **conv)
    if name == "maxout":
        return MaxoutConv(dims, c_in, c_out, kernel, **_only(opts, ("k",), name), **conv)
    return REGULARIZERS.build({"name": "dropconnect_conv", **_only(opts, ("p",), name)}, dims, c_in, c_out, kernel, **conv)


def make_dropout(spec: float | Spec | None, dims: int) -> nn.Module | None:
    """None for no dropout; a float p is inverted dropout; a table picks a regularizer by name."""
    if spec is None or spec == 0 or spec == "none":
        return None
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        if not 0.0 < spec < 1.0:
            raise UserError(f"model.dropout must be in [0, 1), got {spec}")
        return REGULARIZERS.build({"name": "dropout", "p": float(spec)})
    name, opts = split_spec(spec)
    if name not in DROPOUT_KINDS:
        raise UserError(f"model.dropout: {name!r} is not a dropout-like regularizer; use one of {', '.join(DROPOUT_KINDS)}")
    if name == "dropblock":
        if dims == 0:
            raise UserError("model.dropout: dropblock needs conv feature maps (a convnet), not an MLP")
        return REGULARIZERS.build(spec, dims=dims)
    if name == "spatial_dropout" and dims == 0:
        raise UserError("model.dropout: spatial_dropout drops conv channels; use dropout for an MLP")
    return REGULARIZERS.build(spec)


def _layer_spec(spec: Spec, default: str) -> tuple[str, dict[str, Any]]:
    name, opts = split_spec(spec)
    allowed = (default, "maxout", "dropconnect")
    if name not in allowed:
        raise UserError(f"model.layer must be one of {', '.join(allowed)}, got {name!r}")
    return name, opts


def _only(opts: dict[str, Any], keys: tuple[str, ...], name: str) -> dict[str, Any]:
    extra = [k for k in opts if k not in keys]
    if extra:
        raise UserError(f"model.layer {name!r} has no option {extra[0]!r}; its options: {', '.join(keys)}")
    return opts


def _no_options(name: str, opts: dict[str, Any]) -> None:
    if opts:
        raise UserError(f"model.layer {name!r} takes no options, got {sorted(opts)}")
