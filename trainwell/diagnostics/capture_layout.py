"""What `LayerStats` keeps per captured output: the entry fields, and the per-shape `OutputLayout`.

An *entry* is a plain list (cheaper to build than an object in a hot hook) with the fields
LEAF … GRAD_EXACT below; an `OutputLayout` is cached per leaf and output shape (and, on the
native path, which reads the memory in place, per strides).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from trainwell.diagnostics import stats as S
from trainwell.diagnostics.native import layouts as L
from trainwell.diagnostics.native.kernels import activation_layout

# entry fields: the leaf index; the entry it repeats (a view of the previous output) or -1; its
# OutputLayout; torch path: the index of its first scalar, two-pass M2?, its per-unit maxima; the
# row of its numbers (native: of the host arrays; both: of the histogram sample); the index of its
# activation gradient; torch path: two-pass gradient M2?
LEAF, DUP, LAYOUT, AT, EXACT, UNITS, ROW, GRAD_AT, GRAD_EXACT = range(9)


def new_entry(leaf: int, layout: OutputLayout) -> list:
    return [leaf, -1, layout, -1, False, -1, -1, -1, False]


class OutputLayout:
    """What one leaf's reductions need to know about an output of one shape (and strides)."""

    __slots__ = ("shape", "strides", "device", "native", "n", "units", "count", "stride", "inv_n", "index", "width",
                 "native_layout", "native_addr", "host_sample", "scratch", "offsets", "copy")

    def __init__(self, shape: torch.Size, strides: tuple[int, ...] | None, kind: str | None, hist_samples: int | None,
                 device: torch.device, native: bool):
        self.shape, self.strides, self.device, self.native = shape, strides, device, native
        self.n = n = math.prod(shape)
        self.inv_n = -1.0 / n
        examples, units, positions = S.unit_shape(shape)
        self.units = (examples, units, positions) if kind == "relu" else None
        per_example = n // shape[0] if len(shape) > 1 and shape[0] else n
        self.count, self.stride = S.sample_stride(n, hist_samples, per_example)
        # padded to hist_samples so that all layers' samples form one matrix
        self.width = self.count if hist_samples is None else max(hist_samples, self.count)
        if native:  # the C kernel reads the output in place and writes the sample into host memory of its own
            order = L.memory_order(shape, strides)
            # gaps/overlaps, or an order the dead-unit count cannot walk: read a C-order copy
            self.copy = order is None or (kind == "relu" and order == "dense")
            if self.copy:
                order, strides = "contiguous", L.contiguous_strides(shape)
            self.host_sample = np.empty(self.width, dtype=np.float32)
            self.scratch = np.empty(units * positions if kind == "relu" else 1, dtype=np.float32)
            self.offsets = L.sample_offsets(shape, strides, self.count, self.stride)
            rows, cols = (examples, units * positions) if kind == "relu" else (1, n)
            steps = L.unit_steps(shape, order) if kind == "relu" else (1, 1)
            self.native_layout = activation_layout(rows, cols, kind, units, self.scratch, self.offsets,
                                                   self.host_sample, *steps)
            self.native_addr = self.native_layout.ctypes.data
            self.index = None
        else:  # the sample as an index: one `torch.take` copies it (a strided view would need a clone too)
            self.host_sample = self.scratch = self.native_layout = self.native_addr = self.offsets = None
            self.copy = False
            index = torch.zeros(self.width, dtype=torch.long)
            index[: self.count] = torch.arange(0, self.count * self.stride, self.stride)
            self.index = index.to(device)


def dense(t: torch.Tensor) -> bool:
    """Contiguous, or gap-free in another order (channels-last); see `layouts.is_dense`."""
    return t.is_contiguous() or L.is_dense(t.shape, t.stride())


def plain_float32(t: torch.Tensor) -> bool:
    """A dense float32 CPU tensor (any memory order): what the kernels read in place when the order
    does not matter (sums of squares, the weight snapshot — whose buffer has the same strides)."""
    return t.dtype == torch.float32 and t.device.type == "cpu" and dense(t)
