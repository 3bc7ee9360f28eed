"""ctypes bindings of `stats_kernels.c`: the CPU path of `LayerStats` (see that file for the math).

`stats_kernels()` returns a `StatsKernels` (built on first use, once per process), or None when
no library could be built — `trainwell.diagnostics.native.build.last_error("stats_kernels")` says
why. Every function takes raw addresses of float32 CPU memory (tensors' `data_ptr()`, numpy
arrays' `ctypes.data`) and writes float64 results into caller-owned numpy arrays; the caller keeps
the tensors alive during the call (and passes dense memory: see `trainwell.diagnostics.native.layouts`).
"""
from __future__ import annotations

import ctypes
from collections.abc import Sequence

import numpy as np
import torch

from trainwell.diagnostics.native.build import last_error, load_library

ABI_VERSION = 6
KIND_CODES = {None: 0, "relu": 1, "tanh": 2, "sigmoid": 3}

_i64, _ptr = ctypes.c_int64, ctypes.c_void_p
LAYOUT_FIELDS = ("rows", "cols", "kind", "units", "scratch", "count", "width", "sample", "offsets", "unit_step",
                 "position_step")


def activation_layout(rows: int, cols: int, kind: str | None, units: int, scratch: np.ndarray, offsets: np.ndarray,
                      sample: np.ndarray, unit_step: int, position_step: int) -> np.ndarray:
    """The int64[11] layout `activation` reads (LAYOUT_FIELDS): output memory rows × cols (rows =
    examples; for the ReLU family cols = units × positions, unit u at position p at offset
    u·unit_step + p·position_step within an example), the kind's code, a float32 scratch of cols
    values (ReLU family), the histogram sample's memory offsets (int64) and the float32 array it is
    written to (its length is the padded width). The caller keeps the arrays alive with the layout;
    a layout that would read or write outside them is refused."""
    count = len(offsets)
    if len(sample) < count or sample.dtype != np.float32 or scratch.dtype != np.float32 or offsets.dtype != np.int64:
        raise ValueError("activation_layout: float32 scratch and sample arrays (the sample at least as long as the "
                         "int64 offsets)")
    bad = rows < 1 or cols < 1 or (count > 0 and (int(offsets.min()) < 0 or int(offsets.max()) >= rows * cols))
    if kind == "relu":
        positions = cols // units if units >= 1 else 0
        bad = bad or units < 1 or cols % units or len(scratch) < cols or \
            (units - 1) * unit_step + (positions - 1) * position_step >= cols
    if bad:
        raise ValueError(f"activation_layout: inconsistent layout rows={rows} cols={cols} units={units} "
                         f"steps=({unit_step}, {position_step}) samples={count}")
    return np.array([rows, cols, KIND_CODES[kind], units, scratch.ctypes.data, count, len(sample),
                     sample.ctypes.data, offsets.ctypes.data, unit_step, position_step], dtype=np.int64)


def addresses(tensors: Sequence[torch.Tensor]) -> ctypes.Array:
    """A C array of the tensors' data addresses (keep the tensors alive while it is used)."""
    return (ctypes.c_void_p * len(tensors))(*[t.data_ptr() for t in tensors])


class StatsKernels:
    """The loaded library, with argument types set."""

    def __init__(self, lib: ctypes.CDLL):
        version = lib.tw_version()
        if version != ABI_VERSION:
            raise OSError(f"stats_kernels ABI version {version}, expected {ABI_VERSION}")
        # raw: (output address, layout address — int64[11], see activation_layout —, out address: 5 float64)
        self.activation = lib.tw_activation
        self.activation.argtypes = [_ptr, _ptr, _ptr]
        self.activation.restype = None
        self.moments_one = lib.tw_moments
        self.moments_one.argtypes = [_ptr, _i64, _ptr]
        self.moments_one.restype = None
        # raw: (row addresses, rows, sizes, lo address, hi address, lo/hi step, bins, counts address)
        self.histograms_raw = lib.tw_histograms
        self.histograms_raw.argtypes = [_ptr, _i64, _ptr, _ptr, _ptr, _i64, _i64, _ptr]
        self.histograms_raw.restype = None
        # raw: (count, grad addresses, weight addresses, snapshot addresses, lengths, out) — see param_stats
        self.param_stats_raw = lib.tw_param_stats
        self.param_stats_raw.argtypes = [_i64, _ptr, _ptr, _ptr, _ptr, _ptr]
        self.param_stats_raw.restype = None
        # raw: (count, snapshot addresses, weight addresses, lengths, out) — see param_finish
        self.param_finish_raw = lib.tw_param_finish
        self.param_finish_raw.argtypes = [_i64, _ptr, _ptr, _ptr, _ptr]
        self.param_finish_raw.restype = None

    # every tensor below must be dense float32 CPU memory (sums do not depend on the order)
    def moments(self, tensors: Sequence[torch.Tensor]) -> np.ndarray:
        """(len × 2) float64: Σx and M2 = Σ(x − mean)² of each tensor."""
        out = np.empty((len(tensors), 2))
        for i, t in enumerate(tensors):
            self.moments_one(t.data_ptr(), t.numel(), out[i].ctypes.data)
        return out

    def histograms(self, rows: Sequence[np.ndarray], sizes: Sequence[int], lo: np.ndarray, hi: np.ndarray,
                   bins: int) -> np.ndarray:
        """(len(rows) × bins) int64 counts: the first sizes[r] values of the float32 array rows[r]
        binned over [lo[r], hi[r]], as `trainwell.diagnostics.stats.histograms_host`."""
        if not (len(rows) == len(sizes) == len(lo) == len(hi)) or any(
                r.dtype != np.float32 or not r.flags.c_contiguous or len(r) < k for r, k in zip(rows, sizes)):
            raise ValueError("histograms: one C-contiguous float32 row of at least sizes[r] values, and one lo and "
                             "hi, per row")
        lo, hi = np.ascontiguousarray(lo, np.float64), np.ascontiguousarray(hi, np.float64)
        lens = np.array(sizes, dtype=np.int64)
        counts = np.empty((len(rows), bins), dtype=np.int64)
        row_addresses = (ctypes.c_void_p * len(rows))(*[r.ctypes.data for r in rows])
        self.histograms_raw(row_addresses, len(rows), lens.ctypes.data, lo.ctypes.data, hi.ctypes.data, 1, bins,
                            counts.ctypes.data)
        return counts

    def param_stats(self, grads: Sequence[torch.Tensor], weights: Sequence[torch.Tensor],
                    snapshots: Sequence[torch.Tensor]) -> np.ndarray:
        """(len × 3) float64 rows [Σg², Σw², unset], and snapshots[i] ← weights[i] (same sizes);
        `param_finish` fills the last column after the optimizer step."""
        lens = np.array([t.numel() for t in weights], dtype=np.int64)
        sizes = lens.tolist()
        if not (len(grads) == len(weights) == len(snapshots)) or any(
                g.numel() != n or s.numel() != n for g, s, n in zip(grads, snapshots, sizes)):
            raise ValueError("param_stats: gradients, weights and snapshots must match in number and size")
        out = np.zeros((len(weights), 3))
        self.param_stats_raw(len(weights), addresses(grads), addresses(weights), addresses(snapshots),
                             lens.ctypes.data, out.ctypes.data)
        return out

    def param_finish(self, snapshots: Sequence[torch.Tensor], weights: Sequence[torch.Tensor],
                     out: np.ndarray) -> np.ndarray:
        """out (from `param_stats`) → rows [‖g‖, ‖w‖, ‖snapshot − w‖], in place."""
        lens = np.array([t.numel() for t in weights], dtype=np.int64)
        if len(snapshots) != len(weights) or out.shape != (len(weights), 3) or any(
                s.numel() != n for s, n in zip(snapshots, lens.tolist())):
            raise ValueError("param_finish: snapshots, weights and out rows must match")
        self.param_finish_raw(len(weights), addresses(snapshots), addresses(weights), lens.ctypes.data,
                              out.ctypes.data)
        return out


_KERNELS: list[StatsKernels | None] = []


def stats_kernels() -> StatsKernels | None:
    """The CPU statistics kernels, or None when they cannot be built (see `why_unavailable`)."""
    if not _KERNELS:
        lib = load_library("stats_kernels")
        kernels = None
        if lib is not None:
            try:
                kernels = StatsKernels(lib)
            except (OSError, AttributeError) as exc:
                _UNAVAILABLE.append(str(exc))
        _KERNELS.append(kernels)
    return _KERNELS[0]


_UNAVAILABLE: list[str] = []


def why_unavailable() -> str | None:
    """The reason `stats_kernels()` is None (None while it is available or untried)."""
    return _UNAVAILABLE[0] if _UNAVAILABLE else last_error("stats_kernels")
