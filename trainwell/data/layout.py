"""Axis orders of array data, detected or given, and the move to channels first.

trainwell's models take N×F (flat features), N×C×L (signals) or N×C×H×W (images). Files store
other orders too; `data.layout` names the stored one:

    layout  stored as    becomes        layout  stored as   becomes
    nchw    N×C×H×W      (as is)        ncl     N×C×L       (as is)
    nhwc    N×H×W×C      N×C×H×W        nlc     N×L×C       N×C×L
    nhw     N×H×W        N×1×H×W        flat    N×F         (as is)

When `data.layout` is absent it is detected from the shape, and the choice is stated (it is part of
the data description the trainer prints). The rule: channels are few (≤ 4: greyscale, RGB, RGBA),
so a LAST axis of ≤ 4 after longer axes (each > 4) is the channel axis:

    2 axes                                           flat
    3 axes N×A×B: B ≤ 4 < A                          nlc, else ncl
    4 axes N×A×B×C: C ≤ 4 < A and C ≤ 4 < B          nhwc, else nchw

N×28×28 is read as ncl (28 channels of length 28); for greyscale images without a channel axis say
`layout = "nhw"`. Flat rows (a CSV, or an N×F array) become images with `data.shape`, the shape of
one example as stored ([C, H, W], or [H, W, C] with layout nhwc — detected by the same rule).

Example:
    >>> x, stored, said = arrange(np.zeros((5, 32, 32, 3)), None, None, "d.npz")
    >>> x.shape, stored, RESULT[stored]
    ((5, 3, 32, 32), 'nhwc', 'nchw')
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from trainwell.errors import UserError

NDIM = {"nchw": 4, "nhwc": 4, "ncl": 3, "nlc": 3, "nhw": 3, "flat": 2}
MAX_CHANNELS = 4
# where the stored axes go (np.transpose order) and, for nhw, a channel axis to insert
MOVES = {"nhwc": (0, 3, 1, 2), "nlc": (0, 2, 1)}
RESULT = {"nchw": "nchw", "nhwc": "nchw", "nhw": "nchw", "ncl": "ncl", "nlc": "ncl", "flat": "flat"}


def detect_layout(shape: Sequence[int]) -> tuple[str, str]:
    """(layout, why) for an array of `shape` (example axis first), by the rule of the module docstring."""
    dims = tuple(shape[1:])
    if len(dims) == 1:
        return "flat", f"{dims[0]} features per example"
    if len(dims) == 2:
        a, b = dims
        if b <= MAX_CHANNELS < a:
            return "nlc", f"the last axis ({b}) looks like channels after a length of {a}"
        hint = '; for greyscale images without a channel axis set data.layout = "nhw"' if a > MAX_CHANNELS else ""
        return "ncl", f"{a} channel(s) of length {b}{hint}"
    if len(dims) == 3:
        a, b, c = dims
        if c <= MAX_CHANNELS < min(a, b):
            return "nhwc", f"the last axis ({c}) looks like channels after {a}×{b} pixels"
        return "nchw", f"{a} channel(s) of {b}×{c} pixels"
    raise UserError(f"examples have {len(dims)} axes (shape {tuple(shape)}); trainwell reads N×F, N×C×L or N×C×H×W")


def arrange(x: np.ndarray, layout: str | None, shape: Sequence[int] | None, source: str) -> tuple[np.ndarray, str, str]:
    """x moved to channels first; returns (x, the stored layout, a sentence saying what was done).

    The layout of the result is RESULT[stored] (nchw, ncl or flat).

    `shape` first reshapes flat N×F rows to N×shape; `layout` (None: detect) then names the order.
    """
    if layout is not None and layout not in NDIM:
        raise UserError(f"data.layout must be one of {', '.join(NDIM)}, got {layout!r}")
    said = []
    if shape is not None:
        shape = tuple(shape)
        if not shape or not all(isinstance(s, int) and s >= 1 for s in shape):
            raise UserError(f"data.shape must be a list of positive integers such as [3, 32, 32], got {list(shape)}")
        if x.ndim != 2:
            raise UserError(f"{source}: data.shape reshapes flat rows, but x already has shape {x.shape}; drop data.shape")
        if int(np.prod(shape)) != x.shape[1]:
            raise UserError(f"{source}: data.shape = {list(shape)} holds {int(np.prod(shape))} values, "
                            f"but each row has {x.shape[1]}")
        if layout == "flat":
            raise UserError('data.layout = "flat" contradicts data.shape (which makes rows into images or signals)')
        x = x.reshape(len(x), *shape)
        said.append(f"rows reshaped to {list(shape)}")
    if layout is None:
        layout, why = detect_layout(x.shape)
        said.append(f"layout {layout} detected ({why}; set data.layout to override)")
    else:
        if x.ndim != NDIM[layout]:
            need = "data.shape to make rows into examples" if x.ndim == 2 else f"{NDIM[layout]}-axis data"
            raise UserError(f"{source}: data.layout = {layout!r} needs {need}; x has shape {x.shape}")
        said.append(f"layout {layout} (data.layout)")
    if layout in MOVES:
        x = np.ascontiguousarray(x.transpose(MOVES[layout]))
    elif layout == "nhw":
        x = x[:, None]
    if RESULT[layout] != layout:
        said[-1] += f", moved to {RESULT[layout]}"
    return x, layout, "; ".join(said)
