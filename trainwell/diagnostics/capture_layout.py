"""What `LayerStats` keeps per captured output: the entry fields, and the per-shape `OutputLayout`.

An *entry* is a plain list (cheaper to build than an object in a hot hook) with the fields
LEAF … GRAD_EXACT below; an `OutputLayout` is cached per leaf and output shape.
"""
from __future__ import annotations

import math

import torch

from trainwell.diagnostics import stats as S

# entry fields: the leaf index; the entry it repeats (a view of the previous output) or -1; its
# OutputLayout; torch path: the index of its first scalar, two-pass M2?, its per-unit maxima; the
# row of its numbers and histogram sample; the index of its
# activation gradient; torch path: two-pass gradient M2?
LEAF, DUP, LAYOUT, AT, EXACT, UNITS, ROW, GRAD_AT, GRAD_EXACT = range(9)


def new_entry(leaf: int, layout: OutputLayout) -> list:
    return [leaf, -1, layout, -1, False, -1, -1, -1, False]


class OutputLayout:
    """What one leaf's reductions need to know about an output of one shape."""

    __slots__ = ("shape", "device", "n", "units", "count", "stride", "inv_n", "index", "width")

    def __init__(self, shape: torch.Size, kind: str | None, hist_samples: int | None, device: torch.device):
        self.shape, self.device = shape, device
        self.n = n = math.prod(shape)
        self.inv_n = -1.0 / n
        examples, units, positions = S.unit_shape(shape)
        self.units = (examples, units, positions) if kind == "relu" else None
        per_example = n // shape[0] if len(shape) > 1 and shape[0] else n
        self.count, self.stride = S.sample_stride(n, hist_samples, per_example)
        # padded to hist_samples so that all layers' samples form one matrix
        self.width = self.count if hist_samples is None else max(hist_samples, self.count)
        # the sample as an index: one `torch.take` copies it (a strided view would need a clone too)
        index = torch.zeros(self.width, dtype=torch.long)
        index[: self.count] = torch.arange(0, self.count * self.stride, self.stride)
        self.index = index.to(device)
