"""Memory layouts the statistics kernels read in place: which order a tensor's elements lie in.

A layer output of shape N × C × (positions) is read without a copy when its memory is *dense*
(every element once, no gaps): Σ, M2, min, max and saturated counts do not depend on the order.
The per-unit dead count also needs each example's values contiguous (examples outermost) and the
unit/position steps: (P, 1) for the C order, (1, C) for channels-last (`torch.channels_last`,
what trainwell's image models use on the CPU). The histogram sample is taken at the memory
offsets of the same logical elements as the torch path's (`sample_offsets`), so both paths bin
the same values.

Example:
    >>> memory_order((8, 3, 4, 4), (48, 1, 12, 3))
    'channels_last'
    >>> unit_steps((8, 3, 4, 4), 'channels_last')
    (1, 3)
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def is_dense(shape: Sequence[int], strides: Sequence[int]) -> bool:
    """Every element stored once with no gaps (strides a permutation of a C-order layout); size-1
    dimensions may have any stride."""
    dims = sorted((st, sz) for sz, st in zip(shape, strides) if sz != 1)
    expected = 1
    for st, sz in dims:
        if st != expected:
            return False
        expected *= sz
    return True


def memory_order(shape: Sequence[int], strides: Sequence[int]) -> str | None:
    """"contiguous" (C order), "channels_last" (examples outermost, then positions, the unit axis
    innermost), "dense" (another gap-free order) or None (gaps or overlaps: copy first)."""
    if not is_dense(shape, strides):
        return None
    numel = math.prod(shape)
    expected = 1
    c_order = True
    for sz, st in zip(reversed(shape), reversed(strides)):
        if sz != 1 and st != expected:
            c_order = False
            break
        expected *= sz
    if c_order:
        return "contiguous"
    if len(shape) >= 3:
        n, c = shape[0], shape[1]
        positions = shape[2:]
        expected_pos = [c * math.prod(positions[i + 1:]) for i in range(len(positions))]
        ok = (n == 1 or strides[0] == numel // n) and (c == 1 or strides[1] == 1) and all(
            sz == 1 or st == e for sz, st, e in zip(positions, strides[2:], expected_pos))
        if ok:
            return "channels_last"
    return "dense"


def contiguous_strides(shape: Sequence[int]) -> tuple[int, ...]:
    """The strides of a C-order tensor of this shape."""
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= max(size, 1)
    return tuple(reversed(strides))


def unit_steps(shape: Sequence[int], order: str) -> tuple[int, int]:
    """(unit_step, position_step) within one example's memory, for the C order or channels-last."""
    units = shape[1] if len(shape) > 1 else 1
    positions = math.prod(shape[2:]) if len(shape) > 2 else 1
    if order == "contiguous":
        return positions, 1
    if order == "channels_last":
        return 1, units
    raise ValueError(f"unit steps are defined for contiguous and channels_last memory, not {order!r}")


def sample_offsets(shape: Sequence[int], strides: Sequence[int], count: int, stride: int) -> np.ndarray:
    """int64 memory offsets of the logical (C-order) elements 0, stride, …, (count − 1)·stride."""
    logical = np.arange(count, dtype=np.int64) * stride
    if not shape:
        return logical
    offsets = np.zeros(count, dtype=np.int64)
    for index, st in zip(np.unravel_index(logical, tuple(shape)), strides):
        offsets += index.astype(np.int64) * st
    return offsets
