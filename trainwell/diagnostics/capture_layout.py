"""What `LayerStats` keeps per captured tensor: the entry fields, and the per-shape `Layout`.

An *entry* is a plain list (cheaper to build than an object in a hot hook) with the fields
SITE … FN below. A *site* is where a tensor is observed: the output of leaf i (site i), or the
input of leaf i (site n_leaves + i: an activation applied as a function, see `functional`).
A `Layout` is cached per site and shape; it owns the small device buffers its reductions write
into with `out=` (nothing is allocated for a result, nothing stacked afterwards):

    stats    7 floats   Σy, Σy² or Σ(y − mean)², lo, hi, count, Σg, Σg² or Σ(g − mean_g)²
    units    C floats   ReLU family: the maximum of each unit (dim 1) over examples and positions
    sample   w floats   the histogram sample (`stats.sample_stride`), w = hist_samples
"""
from __future__ import annotations

import math

import torch

from trainwell.diagnostics import stats as S

# entry fields: the site; the entry it repeats (a view of the previous tensor) or -1; its Layout;
# two-pass M2?; did its gradient arrive?; two-pass gradient M2?; its activation kind (None,
# "relu", "tanh", "sigmoid"); the function applied (input sites: "relu", "tanh", …; else None)
SITE, DUP, LAYOUT, EXACT, GRAD, GRAD_EXACT, KIND, FN = range(8)


class Layout:
    """What one site's reductions need for a tensor of one shape, kind and memory order."""

    __slots__ = ("shape", "device", "kind", "channels_last", "n", "inv_n", "units", "positions", "count", "stride",
                 "width", "index", "stats", "sum", "q", "lo", "hi", "sat", "gsum", "gq", "unit_max", "sample")

    def __init__(self, shape: torch.Size, kind: str | None, hist_samples: int | None, device: torch.device,
                 channels_last: bool):
        self.shape, self.device, self.kind, self.channels_last = shape, device, kind, channels_last
        self.n = n = math.prod(shape)
        self.inv_n = -1.0 / n
        _, self.units, self.positions = S.unit_shape(tuple(shape))
        per_example = n // shape[0] if len(shape) > 1 and shape[0] else n
        # elements i·stride of the tensor's memory (C order, or channels-last read in place); padded
        # with element 0 to hist_samples so that all layers' samples form one matrix on the host
        self.count, self.stride = S.sample_stride(n, hist_samples, per_example)
        self.width = self.count if hist_samples is None else max(hist_samples, self.count)
        index = torch.zeros(self.width, dtype=torch.long)
        index[: self.count] = torch.arange(0, self.count * self.stride, self.stride)
        self.index = index.to(device)
        self.stats = torch.zeros(7, device=device)
        self.sum, self.q, self.lo, self.hi, self.sat, self.gsum, self.gq = self.stats.unbind()
        self.unit_max = torch.zeros(self.units, device=device) if kind == "relu" else None
        self.sample = torch.zeros(self.width, device=device)


def memory_order(t: torch.Tensor) -> bool | None:
    """False for C order, True for channels-last (4-D or 5-D), None for any other memory order."""
    if t.is_contiguous():
        return False
    if t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last):
        return True
    if t.dim() == 5 and t.is_contiguous(memory_format=torch.channels_last_3d):
        return True
    return None
