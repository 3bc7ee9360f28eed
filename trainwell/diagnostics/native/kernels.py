"""ctypes bindings of `stats_kernels.c`: the CPU path of `LayerStats` (see that file for the math).

`stats_kernels()` returns a `StatsKernels` (built on first use, once per process), or None when
no library could be built — `trainwell.diagnostics.native.build.last_error("stats_kernels")` says
why. Every function takes raw addresses of C-contiguous float32 CPU memory (tensors' `data_ptr()`,
numpy arrays' `ctypes.data`) and writes float64 results into caller-owned numpy arrays; the
caller keeps the tensors alive during the call. `as_float32_contiguous` makes any tensor fit.
"""
from __future__ import annotations

import ctypes
from collections.abc import Sequence

import numpy as np
import torch

from trainwell.diagnostics.native.build import last_error, load_library

ABI_VERSION = 3
KIND_CODES = {None: 0, "relu": 1, "tanh": 2, "sigmoid": 3}

_i64, _ptr, _int = ctypes.c_int64, ctypes.c_void_p, ctypes.c_int


def as_float32_contiguous(t: torch.Tensor) -> torch.Tensor:
    """t itself when it is a C-contiguous float32 CPU tensor, else such a copy."""
    if t.dtype != torch.float32 or t.device.type != "cpu":
        t = t.to("cpu", torch.float32)
    return t if t.is_contiguous() else t.contiguous()


def addresses(tensors: Sequence[torch.Tensor]) -> ctypes.Array:
    """A C array of the tensors' data addresses (keep the tensors alive while it is used)."""
    return (ctypes.c_void_p * len(tensors))(*[t.data_ptr() for t in tensors])


class StatsKernels:
    """The loaded library, with argument types set."""

    def __init__(self, lib: ctypes.CDLL):
        version = lib.tw_version()
        if version != ABI_VERSION:
            raise OSError(f"stats_kernels ABI version {version}, expected {ABI_VERSION}")
        self.activation = lib.tw_activation
        self.activation.argtypes = [_ptr, _i64, _i64, _int, _i64, _ptr, _i64, _i64, _i64, _ptr, _ptr]
        self.activation.restype = None
        self.moments_one = lib.tw_moments
        self.moments_one.argtypes = [_ptr, _i64, _ptr]
        self.moments_one.restype = None
        self._histograms = lib.tw_histograms
        self._histograms.argtypes = [_ptr, _i64, _i64, _ptr, _ptr, _ptr, _i64, _ptr]
        self._histograms.restype = None
        # raw: (count, grad addresses, weight addresses, snapshot addresses, lengths, out) — see param_stats
        self.param_stats_raw = lib.tw_param_stats
        self.param_stats_raw.argtypes = [_i64, _ptr, _ptr, _ptr, _ptr, _ptr]
        self.param_stats_raw.restype = None
        self.diff_sumsq_raw = lib.tw_diff_sumsq_many
        self._moments = lib.tw_moments_many
        self._sumsq = lib.tw_sumsq_many
        self._copy = lib.tw_copy_many
        self._diff = lib.tw_diff_sumsq_many
        self._moments.argtypes = self._sumsq.argtypes = [_i64, _ptr, _ptr, _ptr]
        self._copy.argtypes = [_i64, _ptr, _ptr, _ptr]
        self._diff.argtypes = [_i64, _ptr, _ptr, _ptr, _ptr]
        for fn in (self._moments, self._sumsq, self._copy, self._diff):
            fn.restype = None

    # every tensor below must be C-contiguous float32 on the CPU (`as_float32_contiguous`)
    def moments(self, tensors: Sequence[torch.Tensor]) -> np.ndarray:
        """(len × 2) float64: Σx and M2 = Σ(x − mean)² of each tensor."""
        out = np.empty((len(tensors), 2))
        lens = np.array([t.numel() for t in tensors], dtype=np.int64)
        self._moments(len(tensors), addresses(tensors), lens.ctypes.data, out.ctypes.data)
        return out

    def histograms(self, samples: np.ndarray, sizes: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                   bins: int) -> np.ndarray:
        """(rows × bins) int64 counts: row r of the float32 matrix `samples` (its first sizes[r]
        values) binned over [lo[r], hi[r]], as `trainwell.diagnostics.stats.histograms_host`."""
        rows, width = samples.shape
        if not (samples.dtype == np.float32 and samples.flags.c_contiguous and len(sizes) == len(lo) == len(hi) == rows
                and sizes.dtype == np.int64 and int(sizes.max(initial=0)) <= width):
            raise ValueError("histograms: a C-contiguous float32 matrix and one int64 size, lo and hi per row")
        lo, hi = np.ascontiguousarray(lo, np.float64), np.ascontiguousarray(hi, np.float64)
        counts = np.empty((rows, bins), dtype=np.int64)
        self._histograms(samples.ctypes.data, rows, width, sizes.ctypes.data, lo.ctypes.data, hi.ctypes.data,
                         bins, counts.ctypes.data)
        return counts

    def sumsq(self, tensors: Sequence[torch.Tensor]) -> np.ndarray:
        """float64 Σx² (the squared L2 norm) of each tensor."""
        out = np.empty(len(tensors))
        lens = np.array([t.numel() for t in tensors], dtype=np.int64)
        self._sumsq(len(tensors), addresses(tensors), lens.ctypes.data, out.ctypes.data)
        return out

    def param_stats(self, grads: Sequence[torch.Tensor], weights: Sequence[torch.Tensor],
                    snapshots: Sequence[torch.Tensor]) -> np.ndarray:
        """[Σg², Σw²] per parameter (2 × len float64), and snapshots[i] ← weights[i] (same sizes)."""
        lens = np.array([t.numel() for t in weights], dtype=np.int64)
        sizes = lens.tolist()
        if not (len(grads) == len(weights) == len(snapshots)) or any(
                g.numel() != n or s.numel() != n for g, s, n in zip(grads, snapshots, sizes)):
            raise ValueError("param_stats: gradients, weights and snapshots must match in number and size")
        out = np.empty((2, len(weights)))
        self.param_stats_raw(len(weights), addresses(grads), addresses(weights), addresses(snapshots),
                             lens.ctypes.data, out.ctypes.data)
        return out

    def copy(self, dst: Sequence[torch.Tensor], src: Sequence[torch.Tensor]) -> None:
        """dst[i] ← src[i] (same sizes)."""
        lens = np.array([t.numel() for t in src], dtype=np.int64)
        if any(d.numel() != n for d, n in zip(dst, lens.tolist())) or len(dst) != len(src):
            raise ValueError("copy: destination and source sizes differ")
        self._copy(len(src), addresses(dst), addresses(src), lens.ctypes.data)

    def diff_sumsq(self, a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> np.ndarray:
        """float64 Σ(a − b)² of each pair (same sizes)."""
        lens = np.array([t.numel() for t in a], dtype=np.int64)
        if any(t.numel() != n for t, n in zip(b, lens.tolist())) or len(a) != len(b):
            raise ValueError("diff_sumsq: the two lists' sizes differ")
        out = np.empty(len(a))
        self._diff(len(a), addresses(a), addresses(b), lens.ctypes.data, out.ctypes.data)
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
