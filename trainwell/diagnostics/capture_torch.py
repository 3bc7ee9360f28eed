"""`LayerStats`' reductions: torch ops whose small results stay on the device, ONE transfer per step.

Per captured tensor y (statistics in float32; read as 1-D memory, C order or channels-last in
place), written with `out=` into its `Layout`'s buffers — no allocated result, no stack afterwards:

    Σy                 torch.sum(y)
    Σy²                y·y, or c·c with c = y − Σy/n (two passes, see below) — `torch.dot`: its
                       blocked float32 sum is accurate (`vector_norm`/`_foreach_norm` lose 2e-5
                       relative over 1M normal numbers, 8e-4 over a ReLU output)
    lo, hi             torch.amin(y); torch.amax(y), or for the ReLU family the per-unit maxima
                       (dim 1) from which the host takes hi and the dead units
    count              tanh/sigmoid: #(|y| > 0.99) resp. #(|y − ½| > 0.49)
    sample             torch.index_select(y, 0, index): the histogram sample (memory order)

— 5 ops (ReLU family 6), each one read of y. An activation gradient g gets Σg and Σg² the same
way, in its autograd hook (while it is in cache). After backward one `_foreach_norm` takes ‖g‖
and ‖w‖ of every parameter and one `_foreach_copy_` snapshots the weights; after the optimizer
step one `_foreach_sub_` and one `_foreach_norm` give ‖Δw‖ (fused multi-tensor kernels on CUDA).
`finish` concatenates every buffer into ONE flat tensor and brings it back with ONE call to
`to_host`; the host turns it into the record.

M2 = Σ(y − mean)². One pass gives M2 = Σy² − (Σy)²/n (float64 on the host), which loses about
ε·(mean/std)² of its value to float32 cancellation (measured: ≤ 2.7e-6 relative at mean/std = 3,
2e-4 at 30). So a site is reduced in two passes (M2 = Σ(y − mean)², exact in float32) on its
first capture and whenever its previous capture had |mean| > ONE_PASS_MAX_RATIO·std or NaN; in
one pass otherwise.
"""
from __future__ import annotations

from operator import attrgetter
from typing import Any

import numpy as np
import torch

from trainwell.diagnostics import stats as S
from trainwell.diagnostics.capture_layout import DUP, EXACT, GRAD_EXACT, KIND, LAYOUT, SITE, Layout, memory_order

ONE_PASS_MAX_RATIO = 3.0
_GRAD, _SHAPE = attrgetter("grad"), attrgetter("shape")
_TANH_EDGE = S.SATURATION
_SIGMOID_EDGE = S.SATURATION - 0.5


def to_host(flat: torch.Tensor) -> np.ndarray:
    """The one device→host transfer of a sampled step (tests spy on this function)."""
    return flat.cpu().numpy()


class Reducer:
    """The device-side reductions of one recorder (`n_sites` sites) and its parameter snapshot."""

    def __init__(self, n_sites: int):
        # sites whose last capture had |mean| > ONE_PASS_MAX_RATIO·std (or none yet): two-pass M2
        self.exact_act: set[int] = set(range(n_sites))
        self.exact_grad: set[int] = set(range(n_sites))
        self._snapshot: list[torch.Tensor] = []
        self.reset()

    def reset(self) -> None:
        self.param_norms: list[torch.Tensor] | tuple[torch.Tensor, ...] = []  # ‖g‖ of every parameter, then ‖w‖

    def close(self) -> None:
        self.reset()
        self._snapshot = []

    # ------------------------------------------------------------------ forward and backward
    def reduce(self, y: torch.Tensor, flat: torch.Tensor, entry: list[Any], layout: Layout) -> None:
        """Σy, Σy² (or Σ(y − mean)²), lo, hi or per-unit maxima, saturated count and sample of one
        detached float32 tensor y, whose memory `flat` is (C order or channels-last)."""
        if _sums(flat, layout.sum, layout.q, layout.inv_n, entry[SITE] in self.exact_act):
            entry[EXACT] = True
        torch.amin(flat, 0, out=layout.lo)
        kind = entry[KIND]
        if kind == "relu":
            units = layout.units
            if layout.channels_last or layout.positions == 1:  # memory: rows of C units
                torch.amax(flat.view(-1, units), 0, out=layout.unit_max)
            else:  # over the examples first (a reduction over the outer dim vectorises), then positions
                torch.amax(flat.view(y.shape[0], -1).amax(0).view(units, -1), 1, out=layout.unit_max)
        else:
            torch.amax(flat, 0, out=layout.hi)
            if kind == "tanh":
                torch.sum(flat.abs().gt_(_TANH_EDGE), 0, out=layout.sat)
            elif kind == "sigmoid":
                torch.sum(torch.sub(flat, 0.5).abs_().gt_(_SIGMOID_EDGE), 0, out=layout.sat)
        torch.index_select(flat, 0, layout.index, out=layout.sample)

    def reduce_grad(self, grad: torch.Tensor, entry: list[Any]) -> None:
        """Σg and Σg² (or Σ(g − mean)²) of the activation gradient of `entry`, into its layout's buffer."""
        if grad.dtype != torch.float32:
            grad = grad.float()
        if grad.is_contiguous():
            flat = grad.view(-1)
        elif memory_order(grad):
            flat = grad.movedim(1, -1).reshape(-1)
        else:
            flat = grad.reshape(-1)
        layout = entry[LAYOUT]
        if _sums(flat, layout.gsum, layout.gq, layout.inv_n, entry[SITE] in self.exact_grad):
            entry[GRAD_EXACT] = True

    def after_backward(self, weights: list[torch.Tensor]) -> list[torch.Tensor] | None:
        """‖g‖, ‖w‖ of every weight (one `_foreach_norm`) and their snapshot (buffers reused between
        captures; one `_foreach_copy_`); returns the snapshot, None without weights."""
        if not weights:
            self.param_norms = []
            return None
        grad_mode = torch.is_grad_enabled()
        torch._C._set_grad_enabled(False)  # (as torch.no_grad(), without its Python overhead)
        try:
            self.param_norms = torch._foreach_norm([*map(_GRAD, weights), *weights])
            snapshot = self._snapshot
            if list(map(_SHAPE, snapshot)) != list(map(_SHAPE, weights)):
                snapshot = self._snapshot = [torch.empty_like(w, memory_format=torch.contiguous_format)
                                             for w in weights]
            torch._foreach_copy_(snapshot, weights)
        finally:
            torch._C._set_grad_enabled(grad_mode)
        return snapshot

    # ------------------------------------------------------------------ finish
    def finish(self, entries: list[list[Any]], weights: list[torch.Tensor],
               snapshot: list[torch.Tensor] | None) -> tuple[list[float], np.ndarray]:
        """‖Δw‖, then every buffer in ONE flat tensor and ONE transfer. Returns (numbers, samples):
        the 7 numbers of every entry, then the per-unit maxima of the reduced ReLU-family entries,
        then [‖g‖…, ‖w‖…, ‖Δw‖…] of the weights (if `snapshot`), as Python floats; and the
        histogram samples of the reduced entries (rows × width when all widths agree, else back
        to back)."""
        reduced = [e[LAYOUT] for e in entries if e[DUP] < 0]
        parts = [e[LAYOUT].stats for e in entries]
        units = [lay.unit_max for lay in reduced if lay.unit_max is not None]
        n_head = 7 * len(entries) + sum(lay.units for lay in reduced if lay.unit_max is not None)
        parts += units
        if snapshot is not None:
            grad_mode = torch.is_grad_enabled()
            torch._C._set_grad_enabled(False)
            try:
                if list(map(_SHAPE, snapshot)) == list(map(_SHAPE, weights)):
                    deltas = torch._foreach_sub_(snapshot, weights)  # w_before − w_after
                else:  # a weight given memory of another size during the step: its Δw is undefined (NaN)
                    deltas = [s.sub_(w) if s.shape == w.shape else s.fill_(float("nan"))
                              for s, w in zip(snapshot, weights)]
                parts.append(_joined([*self.param_norms, *torch._foreach_norm(deltas)], torch.stack))
            finally:
                torch._C._set_grad_enabled(grad_mode)
            n_head += 3 * len(weights)
        parts += [lay.sample for lay in reduced]
        if not parts:
            return [], np.zeros(0, dtype=np.float32)
        values = to_host(_joined(parts, torch.cat))  # (float64 throughout when a part is: a float64 model)
        return values[:n_head].tolist(), values[n_head:]


def _sums(flat: torch.Tensor, total: torch.Tensor, q: torch.Tensor, inv_n: float, exact: bool) -> bool:
    """Σflat into `total` and Σflat² (one pass) or Σ(flat − mean)² (`exact`: two passes) into `q`;
    returns `exact`."""
    torch.sum(flat, 0, out=total)
    if exact:
        centered = torch.add(flat, total, alpha=inv_n)
        torch.dot(centered, centered, out=q)
    else:
        torch.dot(flat, flat, out=q)
    return exact


def _joined(parts: list[torch.Tensor], join: Any) -> torch.Tensor:
    """torch.cat/torch.stack of `parts`; those of a model split over devices join the first one's."""
    try:
        return join(parts)
    except RuntimeError:
        if len({p.device for p in parts}) == 1:
            raise
        return join([p.to(parts[0].device) for p in parts])
