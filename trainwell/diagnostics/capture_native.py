"""`LayerStats`' native path: the C kernels of `trainwell.diagnostics.native` on a CPU model.

Every number is written straight into host arrays this object owns — nothing is transferred and
no tensor is read back: one kernel pass per layer output in its forward hook (row `ROW` of
`act`: Σy, M2, min, max, dead units or saturated count, and the histogram sample into the
layout's own array), one per activation gradient in its autograd hook (row k of `grad`), one
call after backward for every parameter's ‖g‖², ‖w‖² and weight snapshot, and after the
optimizer step one for ‖Δw‖ and one for all histograms.
"""
from __future__ import annotations

import ctypes
from typing import Any

import numpy as np
import torch

from trainwell.diagnostics.capture_layout import DUP, LAYOUT, OutputLayout, dense, plain_float32
from trainwell.diagnostics.native.kernels import StatsKernels, addresses


class ParamPlan:
    """C arrays of the weights' addresses, of their snapshot buffers' and of their sizes, and the
    rows [‖g‖, ‖w‖, ‖Δw‖] the kernels fill; rebuilt when a weight gets new memory."""

    __slots__ = ("key", "buffers", "weights", "snapshots", "sizes", "lens", "out", "out_addr")

    def __init__(self, key: tuple[tuple[int, int], ...], weights: list[torch.Tensor]):
        self.key = key
        self.buffers = [torch.empty_like(w) for w in weights]  # same strides: the snapshot lines up in memory
        self.weights, self.snapshots = addresses(weights), addresses(self.buffers)
        self.sizes = np.array([w.numel() for w in weights], dtype=np.int64)
        self.lens = self.sizes.ctypes.data
        self.out = np.zeros((len(weights), 3))
        self.out_addr = self.out.ctypes.data


def weight_key(weights: list[torch.Tensor]) -> tuple[tuple[int, int], ...]:
    return tuple((w.data_ptr(), w.numel()) for w in weights)


class NativePath:
    """The host arrays and kernel calls of one recorder (`n_leaves` leaves, `bins` histogram bins)."""

    def __init__(self, kernels: StatsKernels, n_leaves: int, bins: int):
        self.kernels = kernels
        self.bins = bins
        rows = max(n_leaves, 1)  # a leaf reports at most once per capture
        self.act = np.empty((rows, 5))  # [Σy, M2, min, max, count] per reduced output
        self.act_base = self.act.ctypes.data
        self.grad = np.empty((rows, 2))  # [Σg, M2] per activation gradient
        self.grad_base = self.grad.ctypes.data
        self.counts = np.empty((rows, bins), dtype=np.int64)
        self.counts_base = self.counts.ctypes.data
        self._row_plans: dict[tuple[OutputLayout, ...], tuple[ctypes.Array, np.ndarray]] = {}
        self.plan: ParamPlan | None = None

    def clear(self) -> None:
        self._row_plans.clear()
        self.plan = None

    def reduce(self, y32: torch.Tensor, layout: OutputLayout, row: int) -> None:
        """Every statistic of one float32 CPU output in one pass, into row `row` of `act`."""
        if layout.copy:
            y32 = y32.contiguous()  # (a name keeps the copy alive during the call)
        self.kernels.activation(y32.data_ptr(), layout.native_addr, self.act_base + 40 * row)

    def reduce_grad(self, grad: torch.Tensor, k: int) -> None:
        """Σg and M2 of one activation gradient (any dense memory order) into row k of `grad`."""
        g32 = grad if grad.dtype == torch.float32 and grad.device.type == "cpu" else grad.to("cpu", torch.float32)
        if not dense(g32):
            g32 = g32.contiguous()
        self.kernels.moments_one(g32.data_ptr(), g32.numel(), self.grad_base + 16 * k)

    def params(self, weights: list[torch.Tensor]) -> list[torch.Tensor] | None:
        """One kernel call: Σg², Σw² and the snapshot of every weight; returns the snapshot, or None
        when a weight or gradient is not dense float32 CPU memory (the torch ops then take them)."""
        key = weight_key(weights)
        plan = self.plan
        if plan is None or plan.key != key:
            plan = self.plan = ParamPlan(key, weights) if all(plain_float32(w) for w in weights) else None
        if plan is None or not all(dense(p.grad) for p in weights):
            return None  # (gradients of float32 CPU weights are float32 CPU; only their layout can differ)
        self.kernels.param_stats_raw(len(weights), addresses([p.grad for p in weights]), plan.weights,
                                     plan.snapshots, plan.lens, plan.out_addr)
        return plan.buffers

    def param_rows(self, weights: list[torch.Tensor], snapshot: list[torch.Tensor]) -> np.ndarray:
        """After the optimizer step: [‖g‖, ‖w‖, ‖Δw‖] per weight (the rows of the plan)."""
        plan = self.plan
        if plan.key != weight_key(weights):
            # a weight was given new memory during the step (`p.data = …`): Δw from torch ops (NaN if resized)
            rows = np.sqrt(plan.out)
            rows[:, 2] = [float((w.detach().float().reshape(b.shape) - b).norm()) if w.numel() == b.numel()
                          else float("nan") for b, w in zip(snapshot, weights)]
            return rows
        self.kernels.param_finish_raw(len(weights), plan.snapshots, plan.weights, plan.lens, plan.out_addr)
        return plan.out

    def histograms(self, entries: list[list[Any]], reduced: int) -> np.ndarray:
        """Counts of every reduced output's sample over its [min, max] (columns 2 and 3 of `act`)."""
        rows, sizes = self._sample_rows(tuple(e[LAYOUT] for e in entries if e[DUP] < 0))
        self.kernels.histograms_raw(rows, reduced, sizes.ctypes.data, self.act_base + 16, self.act_base + 24, 5,
                                    self.bins, self.counts_base)
        return self.counts[:reduced]

    def _sample_rows(self, layouts: tuple[OutputLayout, ...]) -> tuple[ctypes.Array, np.ndarray]:
        """The C array of the layouts' sample addresses and their sample sizes (cached)."""
        found = self._row_plans.get(layouts)
        if found is None:
            if len(self._row_plans) > 16:
                self._row_plans.clear()
            rows = (ctypes.c_void_p * max(len(layouts), 1))(*[lay.host_sample.ctypes.data for lay in layouts])
            found = self._row_plans[layouts] = (rows, np.array([lay.count for lay in layouts], dtype=np.int64))
        return found
