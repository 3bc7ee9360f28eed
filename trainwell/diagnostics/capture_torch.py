"""`LayerStats`' torch path: device-side reductions and ONE transfer per sampled step.

Per output, a few ops whose small results stay on the device: Σy, M2 (or Σy²),
`torch.aminmax` (ReLU family: min and the per-position maxima over the examples), a saturated
count, a `torch.take` sample. Activation gradients are held to the end of backward and reduced
there with the parameter norms in one `_foreach_norm` call; `finish` stacks every number into
ONE flat tensor, brings it back with ONE call to `to_host`, and turns it into the rows the
recorder reads: [Σy, M2, min, max, count] per output, [Σg, M2] per gradient, [‖g‖, ‖w‖, ‖Δw‖]
per parameter, and the histogram counts.

M2 is one-pass (Σy² − (Σy)²/n in float64 on the host) while a layer's previous capture had
|mean| ≤ ONE_PASS_MAX_RATIO·std, else two-pass (y − mean first, exact in float32).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from trainwell.diagnostics import stats as S
from trainwell.diagnostics.capture_layout import AT, DUP, EXACT, GRAD_AT, GRAD_EXACT, LAYOUT, LEAF, UNITS, OutputLayout

ONE_PASS_MAX_RATIO = 3.0


def to_host(flat: torch.Tensor) -> np.ndarray:
    """The one device→host transfer of a sampled step (tests spy on this function)."""
    return flat.cpu().numpy()


class TorchPath:
    """The torch-op reductions of one recorder (`n_leaves` leaves), reset after every capture."""

    def __init__(self, n_leaves: int):
        # leaves whose last capture had |mean| > ONE_PASS_MAX_RATIO·std (or none yet): two-pass M2
        self.exact_act: set[int] = set(range(n_leaves))
        self.exact_grad: set[int] = set(range(n_leaves))
        self._unit_layouts: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray, list[int]]] = {}
        self._snapshot_buffers: list[torch.Tensor] = []
        self._snapshot_shapes: list[Any] = []
        self.reset()

    def reset(self) -> None:
        self.scalars: list[torch.Tensor] = []  # per reduced output: Σy, M2 or Σy², min, max[, saturated]
        self.units: list[torch.Tensor] = []  # per-position maxima of the ReLU family
        self.samples: list[torch.Tensor] = []  # histogram samples
        self.grads: list[torch.Tensor] = []  # activation gradients until the end of backward
        self.grad_parts: list[torch.Tensor] = []  # Σg of every gradient, then √M2 or ‖g‖
        self.param_parts: list[torch.Tensor] = []  # ‖g‖ of every parameter, then ‖w‖

    def close(self) -> None:
        self.reset()
        self._unit_layouts.clear()
        self._snapshot_buffers = []
        self._snapshot_shapes = []

    # ------------------------------------------------------------------ forward and backward
    def reduce(self, y: torch.Tensor, entry: list[Any], kind: str | None, layout: OutputLayout) -> None:
        """Σy, M2 (or Σy²), min, max or per-position maxima, saturated count, histogram sample of one output."""
        if y.dtype != torch.float32:  # float16/bfloat16 under autocast: statistics in float32
            y = y.float()
        flat = y.reshape(-1)
        scalars = self.scalars
        entry[AT] = len(scalars)
        total = flat.sum()
        if entry[LEAF] in self.exact_act:
            entry[EXACT] = True
            centered = torch.add(flat, total, alpha=layout.inv_n)
            scalars += (total, centered.dot(centered))
        else:
            scalars += (total, flat.dot(flat))
        if kind == "relu":
            # the maximum over the examples of each unit and position (one strided reduction over dims
            # (0, 2) would be far slower); the host reduces over positions, counts the dead units and
            # takes hi — no second pass over y
            n, c, p = layout.units
            scalars.append(flat.amin())
            entry[UNITS] = len(self.units)
            self.units.append(flat.view(n, c * p).amax(0))
        else:
            scalars += torch.aminmax(flat)
            if kind is not None:
                scalars.append(S.saturated_count(flat, kind))
        # a copy (y may change in place later in the forward pass) of every stride-th element
        self.samples.append(torch.take(flat, layout.index))

    def _grad_inputs(self, entries: list[list[Any]]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """(Σg of every held activation gradient, the tensors whose norms give ‖g‖ or ‖g − mean‖).

        A gradient is held from its hook to the end of backward — by then the activations saved
        for backward, which are as large, have been freed — and the norms are taken by the
        caller's one `_foreach_norm` call."""
        grads, self.grads = self.grads, []
        if not grads:
            return [], []
        flats = [g if g.dtype == torch.float32 else g.float() for g in grads]
        sums = [g.sum() for g in flats]
        if self.exact_grad:
            for e in entries:
                k = e[GRAD_AT]
                if k >= 0 and e[LEAF] in self.exact_grad:  # two passes: g − mean first
                    e[GRAD_EXACT] = True
                    flats[k] = torch.add(flats[k], sums[k], alpha=e[LAYOUT].inv_n)
        return sums, flats

    def after_backward(self, entries: list[list[Any]], weights: list[torch.Tensor]) -> list[torch.Tensor] | None:
        """Norms of the held activation gradients and ‖g‖, ‖w‖ of every weight in
        one `_foreach_norm` call; returns the weights' snapshot (buffers reused between captures),
        None without weights."""
        sums, act_grads = self._grad_inputs(entries)
        norms = list(torch._foreach_norm(act_grads + [p.grad for p in weights] + weights)) if act_grads or weights else []
        self.grad_parts = sums + norms[:len(act_grads)]
        self.param_parts = norms[len(act_grads):]
        if not weights:
            return None
        shapes = [(w.shape, w.dtype, w.device) for w in weights]
        if shapes != self._snapshot_shapes:
            self._snapshot_buffers = [torch.empty_like(w, memory_format=torch.contiguous_format) for w in weights]
            self._snapshot_shapes = shapes
        torch._foreach_copy_(self._snapshot_buffers, weights)
        return self._snapshot_buffers

    # ------------------------------------------------------------------ finish
    def finish(self, entries: list[list[Any]], leaf_kinds: list[str | None], weights: list[torch.Tensor],
               snapshot: list[torch.Tensor] | None, bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """‖Δw‖, then every number in ONE flat tensor and ONE transfer: (act rows, histogram counts,
        gradient rows, parameter rows)."""
        if self.grads:  # no after_backward: the activation gradients only
            sums, act_grads = self._grad_inputs(entries)
            self.grad_parts = sums + list(torch._foreach_norm(act_grads))
        scalars = self.scalars + self.grad_parts
        if snapshot is not None:
            if all(s.shape == w.shape for s, w in zip(snapshot, weights)):
                deltas = torch._foreach_sub_(snapshot, weights)  # w_before − w_after
            else:  # a weight given memory of another size during the step: its Δw is undefined (NaN)
                deltas = [s.sub_(w) if s.shape == w.shape else s.fill_(float("nan")) for s, w in zip(snapshot, weights)]
            scalars += self.param_parts + list(torch._foreach_norm(deltas))
        if scalars:
            device = scalars[0].device  # a model split over devices: everything joins the first one
            head = torch.stack([t if t.dtype == torch.float32 and t.device == device else t.to(device, torch.float32)
                                for t in scalars])
            flat = torch.cat([head, *self.units, *self.samples]) if self.samples else head
            values = to_host(flat)
        else:
            values = np.zeros(0, dtype=np.float32)
        n_params = len(weights) if snapshot is not None else 0
        n_head = len(self.scalars) + len(self.grad_parts) + 3 * n_params
        head_values = values[:n_head].astype(np.float64)
        at = n_head
        n_units = sum(u.numel() for u in self.units)
        dead, unit_hi = self._unit_numbers(entries, values[at:at + n_units]) if n_units else ([], [])
        at += n_units
        reduced = [e for e in entries if e[DUP] < 0]
        act = self._act_rows(reduced, leaf_kinds, head_values, dead, unit_hi)
        grad = self._grad_rows(entries, head_values)
        start = len(self.scalars) + len(self.grad_parts)
        params = head_values[start:start + 3 * n_params].reshape(3, n_params).T.copy()
        widths = {e[LAYOUT].width for e in reduced}
        sizes = [e[LAYOUT].count for e in reduced]
        width = widths.pop() if len(widths) == 1 else None  # one matrix of padded rows, or rows back to back
        samples = values[at:] if width is not None else values[at:at + sum(sizes)]
        counts = S.histograms_host(samples, sizes, act[:, 2], act[:, 3], bins, width)
        return act, counts, grad, params

    def _act_rows(self, reduced: list[list[Any]], leaf_kinds: list[str | None], head: np.ndarray, dead: list[int],
                  unit_hi: list[float]) -> np.ndarray:
        """[Σy, M2, min, max, count] per reduced output from the transferred scalars."""
        act = np.zeros((len(reduced), 5))
        for r, e in enumerate(reduced):
            first, n = e[AT], e[LAYOUT].n
            total = head[first]
            act[r, 0], act[r, 1], act[r, 2] = total, m2_of(total, head[first + 1], n, e[EXACT]), head[first + 2]
            if e[UNITS] >= 0:
                act[r, 3], act[r, 4] = unit_hi[e[UNITS]], dead[e[UNITS]]
            else:
                act[r, 3] = head[first + 3]
                if leaf_kinds[e[LEAF]] is not None:
                    act[r, 4] = head[first + 4]
        return act

    def _grad_rows(self, entries: list[list[Any]], head: np.ndarray) -> np.ndarray:
        """[Σg, M2] per activation gradient from the transferred sums and norms."""
        half = len(self.grad_parts) // 2
        at = len(self.scalars)
        grad = np.zeros((half, 2))
        for e in entries:
            g = e[GRAD_AT]
            if g >= 0:
                total, norm = head[at + g], head[at + half + g]
                grad[g] = total, m2_of(total, norm * norm, e[LAYOUT].n, e[GRAD_EXACT])
        return grad

    def _unit_numbers(self, entries: list[list[Any]], per_position: np.ndarray) -> tuple[list[int], list[float]]:
        """Dead-unit counts and maxima of the ReLU-family layers, from their per-position maxima back
        to back (layer by layer, C units × P positions each): three numpy calls."""
        shapes = tuple(u.numel() for u in self.units)
        layout = self._unit_layouts.get(shapes)
        if layout is None:
            units = [e[LAYOUT].units for e in entries if e[UNITS] >= 0]
            unit_starts = np.cumsum([0] + [p for _, c, p in units for _ in range(c)])[:-1]
            layer_starts = np.cumsum([0] + [c for _, c, _ in units])[:-1]
            layout = self._unit_layouts[shapes] = (unit_starts, layer_starts, [c for _, c, _ in units])
        unit_starts, layer_starts, _ = layout
        unit_max = np.maximum.reduceat(per_position, unit_starts)
        dead = np.add.reduceat(unit_max <= 0, layer_starts, dtype=np.int64).tolist()
        return dead, np.maximum.reduceat(unit_max, layer_starts).astype(np.float64).tolist()

    def choose_pass(self, leaf: int, mean: float, std: float, gradient: bool) -> None:
        """Two-pass M2 next time for `leaf` when |mean| > ONE_PASS_MAX_RATIO·std (or NaN), else one.

        A float32 Σy² − (Σy)²/n loses about ε·(mean/std)² of its value to cancellation (measured:
        ≤ 2.7e-6 relative at mean/std = 3, 2e-4 at 30); two passes cost two more reads of the output.
        (The C kernels shift by the first element instead and need neither.)"""
        exact = self.exact_grad if gradient else self.exact_act
        if std == std and abs(mean) <= ONE_PASS_MAX_RATIO * std:
            exact.discard(leaf)
        else:
            exact.add(leaf)


def m2_of(total: float, q: float, n: int, two_pass: bool) -> float:
    """M2 = Σ(y − mean)²: q itself after two passes, Σy² − (Σy)²/n (float64) after one."""
    return q if two_pass else q - total * total / n
