"""`LayerStats`: per-layer activation/gradient statistics and update ratios on sampled steps.

How it measures, and what it costs:

* Hooks exist only while a sampled step is being captured: `start()` registers a forward hook on
  every *leaf* module (parameter-less ones — activations, pooling, flatten — included) and
  `finish()`/`cancel()`/`close()` remove them. Unsampled steps run the bare model.
* A forward hook reduces the layer's output at once (before a later in-place op can change it)
  with a few tensor ops whose small results stay on the device (`stats.moments` etc.): Σy and
  M2 = Σ(y − mean)² (two passes through a reused scratch buffer, three ops), min, max (for the
  ReLU family the maximum of the per-unit maxima that also give the dead units), the saturated
  count, and a fixed subset of the elements for the histogram (`torch.take`). It registers a
  tensor hook on the output that takes Σg and M2 of the activation gradient during backward.
  A layer whose output is a view of the previous one's (Flatten, reshape) costs no reduction:
  it repeats those numbers. Nothing is read back.
* `after_backward()` (grads populated, before `optimizer.step()`) takes every gradient and weight
  norm in one `torch._foreach_norm` call and snapshots the weights (`_foreach_copy_` into reused
  buffers); `finish()` (after the step) takes ‖Δw‖ (two calls), stacks the per-layer results,
  counts the dead units of all layers with one index_add_ and bins all histograms with ONE
  bincount (`stats.histogram_rows`), concatenates everything into ONE flat float32 tensor and
  transfers it with ONE call to `to_host` — the single device→host transfer per sampled step —
  then unpacks it into a plain record.
* Between sampled steps the recorder keeps, per leaf and output shape, the histogram subset
  index, one scratch buffer as large as the largest output and a copy of the weights (for Δw);
  `close()` releases them.

Record (JSON-serialisable; `layers` in forward order, `params` in `named_parameters` order):

    {"step": 20, "phase": "train",
     "layers": [{"name": "0", "type": "Linear", "kind": null, "numel": 1600,
                 "mean": .., "std": .., "lo": .., "hi": .., "hist": [40 counts],
                 "grad_mean": .., "grad_std": ..},
                {"name": "1", "type": "ReLU", "kind": "relu", ..., "dead_frac": 0.03, ...}],
     "params": [{"name": "0.weight", "grad_norm": .., "delta_norm": .., "weight_norm": ..,
                 "update_ratio": ..}]}

The histogram's bins split [lo, hi] evenly. A module called several times within one captured
step (a shared block, evaluation in chunks) reports its first call. A layer whose output is a
view of the previous one's (Flatten, reshape) repeats its activation numbers. Grad norms are
taken before any gradient clipping the loop does after `on_after_backward`. Hooks never replace
an output or a gradient: a sampled step trains exactly like an unsampled one.

Example (a hand-written loop):
    >>> stats = LayerStats(model, every=10)
    >>> for step, (x, y) in enumerate(batches):
    ...     sampled = stats.should_sample(step)
    ...     if sampled: stats.start(step)
    ...     loss = loss_fn(model(x), y); opt.zero_grad(); loss.backward()
    ...     if sampled: stats.after_backward()
    ...     opt.step()
    ...     if sampled: records.append(stats.finish())
    >>> stats.close()
"""
from __future__ import annotations

import math
from functools import partial
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from trainwell.diagnostics import stats as S
from trainwell.errors import UserError

_TINY = torch.finfo(torch.float32).tiny


def to_host(flat: torch.Tensor) -> list[float]:
    """The one device→host transfer of a sampled step (tests spy on this function)."""
    return flat.tolist()


def leaf_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) for every module without children; the model itself if it has none."""
    leaves = [(n, m) for n, m in model.named_modules() if next(m.children(), None) is None]
    return [(n or type(m).__name__, m) for n, m in leaves]


class _Slot:
    """What one layer's reductions reuse between sampled steps (per leaf module and output shape)."""

    __slots__ = ("n", "index", "units", "scratch", "scratch_flat", "scratch_gen")

    def __init__(self, shape: tuple[int, ...], device: torch.device, kind: str | None, hist_samples: int | None):
        self.n = n = math.prod(shape)
        k = n if hist_samples is None or hist_samples >= n else hist_samples
        self.index = None if k == n else S.sample_index(n, k, device)  # the histogram subset
        self.units = S.unit_shape(tuple(shape)) if kind == "relu" else (0, 0, 0)
        self.scratch: torch.Tensor | None = None  # y − mean, a view of the recorder's scratch buffer
        self.scratch_flat: torch.Tensor | None = None
        self.scratch_gen = -1


class LayerStats:
    """Records per-layer statistics of `model` on sampled steps (see the module docstring).

    Args:
        model: the network to observe (never modified; hooks are removed after each capture).
        every: sample steps with `step % every == 0`; `sample_next()` forces the next one.
        bins: histogram bin count.
        include_eval: also record when the root model is in eval mode (default: training only).
        hist_samples: histogram a fixed random subset of at most this many elements per layer
            (None: all of them). Mean, std, range, dead and saturated fractions always use every
            element; the subset only shapes the histogram, whose counts then sum to the subset size.
    """

    def __init__(
        self,
        model: nn.Module,
        every: int = 10,
        bins: int = 40,
        include_eval: bool = False,
        hist_samples: int | None = 4096,
    ):
        if not isinstance(model, nn.Module):
            raise UserError(f"LayerStats: expected an nn.Module, found {type(model).__name__}")
        if every < 1:
            raise UserError(f"LayerStats: every must be ≥ 1 (steps between samples), found {every}")
        if bins < 1:
            raise UserError(f"LayerStats: bins must be ≥ 1, found {bins}")
        self.model = model
        self.every = int(every)
        self.bins = int(bins)
        self.include_eval = include_eval
        if hist_samples is not None and hist_samples < 1:
            raise UserError(f"LayerStats: hist_samples must be ≥ 1 or None, found {hist_samples}")
        self.hist_samples = hist_samples
        self.leaves = leaf_modules(model)
        self.kinds = {id(m): S.activation_kind(m) for _, m in self.leaves}
        self._leaf_kinds = [self.kinds[id(m)] for _, m in self.leaves]
        self._hooks = [partial(self._forward_hook, i) for i in range(len(self.leaves))]
        self.params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self._slots: dict[tuple[Any, ...], _Slot] = {}
        self._scratch: dict[torch.device, torch.Tensor] = {}
        self._scratch_gen = 0
        self._snapshot_buffers: list[torch.Tensor] = []
        self._layouts: dict[tuple[Any, ...], tuple[torch.Tensor, torch.Tensor]] = {}
        self._forced = False
        self._handles: list[RemovableHandle] = []
        self._generation = 0
        self._reset()

    # ------------------------------------------------------------------ sampling
    def sample_next(self) -> None:
        """Capture the next step whatever its number."""
        self._forced = True

    def should_sample(self, step: int) -> bool:
        """True for steps divisible by `every` or after `sample_next()`."""
        return self._forced or step % self.every == 0

    @property
    def active(self) -> bool:
        """True between `start()` and `finish()`/`cancel()`."""
        return self._step is not None

    @property
    def phase(self) -> str:
        """Label of the capture in progress ("train" or "eval")."""
        return self._phase

    # ------------------------------------------------------------------ capture
    def _reset(self) -> None:
        self._step: int | None = None
        self._phase = "train"
        # per captured output: [leaf, entry it is a view of (or -1), slot, row, at, extra, grad_at]
        #   row: its index in _lo/_hi/_samples; at: Σy, M2 in _scalars; extra: the saturated count
        #   in _scalars or the unit maxima in _units; grad_at: Σg, M2_g in _scalars (−1: none)
        self._entries: list[list[Any]] = []
        self._scalars: list[torch.Tensor] = []
        self._lo: list[torch.Tensor] = []
        self._hi: list[torch.Tensor] = []
        self._samples: list[torch.Tensor] = []
        self._units: list[torch.Tensor] = []
        self._seen: set[int] = set()
        self._same_data: dict[tuple[Any, ...], int] = {}
        self._alive: list[torch.Tensor] = []  # outputs kept alive: their memory is not reused meanwhile
        self._with_grad: list[torch.Tensor] = []
        self._param_names: list[str] = []
        self._param_parts: list[torch.Tensor] = []
        self._snapshot: list[torch.Tensor] | None = None
        self._generation += 1  # stale gradient hooks check this

    def _remove_hooks(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def start(self, step: int, phase: str = "train") -> None:
        """Register the hooks for one captured step (`phase` labels the record)."""
        if self.active:
            self.cancel()
        self._forced = False
        self._step, self._phase = int(step), phase
        self._handles = [m.register_forward_hook(h) for (_, m), h in zip(self.leaves, self._hooks)]

    def _slot(self, leaf: int, shape: torch.Size, device: torch.device) -> _Slot:
        key = (leaf, shape, device)
        slot = self._slots.get(key)
        if slot is None:
            if len(self._slots) > 4 * len(self.leaves) + 16:  # shapes that keep changing
                self._slots.clear()
            slot = self._slots[key] = _Slot(shape, device, self._leaf_kinds[leaf], self.hist_samples)
        if slot.scratch_gen != self._scratch_gen:
            scratch = self._scratch.get(device)
            if scratch is None or scratch.numel() < slot.n:
                scratch = self._scratch[device] = torch.empty(slot.n, device=device)
                self._scratch_gen += 1
            slot.scratch_flat = scratch.narrow(0, 0, slot.n)
            slot.scratch = slot.scratch_flat.view(shape)
            slot.scratch_gen = self._scratch_gen
        return slot

    def _forward_hook(self, leaf: int, module: nn.Module, args: Any, output: Any) -> None:
        if not isinstance(output, torch.Tensor) or not output.is_floating_point() or output.numel() == 0:
            return
        if leaf in self._seen or (not self.model.training and not self.include_eval):
            return
        self._seen.add(leaf)
        i = len(self._entries)
        kind = self._leaf_kinds[leaf]
        key = (output.data_ptr(), output.numel(), output.dtype, output._version)
        dup = self._same_data.get(key, -1) if kind is None else -1
        entry = [leaf, dup, self._slot(leaf, output.shape, output.device), -1, -1, -1, -1]
        if dup < 0:
            self._same_data[key] = i
            self._alive.append(output)
            self._reduce_activation(output.detach(), entry, kind)
        self._entries.append(entry)
        if output.requires_grad:
            output.register_hook(partial(self._grad_hook, self._generation, entry))

    def _reduce_activation(self, y: torch.Tensor, entry: list[Any], kind: str | None) -> None:
        """Σy, M2, lo, hi, dead units / saturated count and the histogram subset of one output."""
        slot: _Slot = entry[2]
        scalars = self._scalars
        entry[3], entry[4] = len(self._lo), len(scalars)
        scalars.extend(S.moments(y, slot.scratch, slot.scratch_flat))
        self._lo.append(y.amin())
        if kind == "relu":
            unit_max = S.unit_maxima(y, slot.units)
            self._hi.append(unit_max.amax())  # the largest unit maximum: no second pass over y
            entry[5] = len(self._units)
            self._units.append(unit_max)
        else:
            self._hi.append(y.amax())
            if kind is not None:
                entry[5] = len(scalars)
                scalars.append(S.saturated_count((y if y.dtype == torch.float32 else y.float()).reshape(-1), kind))
        # the histogram subset (torch.take indexes y as if flattened; a copy: y may change in place later)
        self._samples.append(y.reshape(-1).clone() if slot.index is None else torch.take(y, slot.index))

    def _grad_hook(self, generation: int, entry: list[Any], grad: torch.Tensor) -> None:
        if generation != self._generation:  # a backward after finish/cancel
            return
        slot: _Slot = entry[2]
        entry[6] = len(self._scalars)
        self._scalars.extend(S.moments(grad.detach() if grad.requires_grad else grad, slot.scratch, slot.scratch_flat))

    @torch.no_grad()
    def after_backward(self) -> None:
        """Gradient and weight norms and a weight snapshot; call after backward, before `optimizer.step()`."""
        if not self.active:
            return
        with_grad = [(n, p) for n, p in self.params if p.grad is not None]
        self._param_names = [n for n, _ in with_grad]
        self._with_grad = weights = [p for _, p in with_grad]
        if with_grad:
            # ‖g‖ and ‖w‖ of every parameter in one call; the snapshot reuses its buffers
            self._param_parts = list(torch._foreach_norm([p.grad for p in weights] + weights))
            snapshot = self._snapshot_buffers
            if len(snapshot) != len(weights) or any(
                s.shape != w.shape or s.dtype != w.dtype or s.device != w.device for s, w in zip(snapshot, weights)
            ):
                snapshot = self._snapshot_buffers = [torch.empty_like(w) for w in weights]
            torch._foreach_copy_(snapshot, weights)
            self._snapshot = snapshot

    # ------------------------------------------------------------------ finish
    def _unit_owner(self, sizes: tuple[int, ...], device: torch.device) -> torch.Tensor:
        """The layer of each unit when the unit maxima of layers with `sizes` units are concatenated."""
        key = ("units", sizes, device)
        found = self._layouts.get(key)
        if found is None:
            found = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes, dtype=torch.long))
            found = self._layouts[key] = found.to(device)
        return found

    def _hist_input(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(samples rows × K, base rows × K) from this step's subsets: short rows padded (cached layout)."""
        sizes = tuple(s.numel() for s in self._samples)
        width = max(sizes)
        key = ("hist", sizes, device)
        found = self._layouts.get(key)
        if found is None:
            if len(self._layouts) > 32:
                self._layouts.clear()
            rows = len(sizes)
            base = torch.arange(rows, dtype=torch.int32).mul_(self.bins).unsqueeze(1).repeat(1, width)
            for r, k in enumerate(sizes):
                base[r, k:] = rows * self.bins  # padding: the discarded extra row
            zeros = torch.zeros(width, device=device)
            found = self._layouts[key] = (base.to(device), zeros)
        base, zeros = found
        parts: list[torch.Tensor] = []
        for s in self._samples:
            parts.append(s)
            if s.numel() < width:
                parts.append(zeros[: width - s.numel()])
        return torch.cat(parts).float().view(len(sizes), width), base

    @torch.no_grad()
    def finish(self) -> dict[str, Any]:
        """Update norms (if `after_backward` ran), the single transfer, the record; hooks removed."""
        if not self.active:
            raise UserError("LayerStats.finish() called without start(): no step is being captured")
        self._remove_hooks()
        parts: list[torch.Tensor] = []
        if self._scalars:
            parts.append(torch.stack(self._scalars).float())
        rows = len(self._lo)
        if rows:
            lo, hi = torch.stack(self._lo).float(), torch.stack(self._hi).float()
            parts += [lo, hi]
            device = lo.device
            if self._units:
                owner = self._unit_owner(tuple(u.numel() for u in self._units), device)
                parts.append(S.dead_counts(torch.cat(self._units), owner, len(self._units)))
            samples, base = self._hist_input(device)  # a copy: binning overwrites it
            parts.append(S.histogram_rows(samples, lo, hi, base, self.bins))
        n_params = len(self._param_names)
        if self._snapshot is not None:
            deltas = torch._foreach_sub_(self._snapshot, self._with_grad)  # w_before − w_after
            params = torch.stack(self._param_parts + list(torch._foreach_norm(deltas))).float()
            parts.append(params.to(parts[0].device) if parts else params)
        flat = torch.cat(parts) if len(parts) > 1 else parts[0] if parts else torch.zeros(0)
        values = to_host(flat)
        layers = self._unpack_layers(values)
        tail = values[len(values) - 3 * n_params:] if n_params else []
        params_out = []
        for k, name in enumerate(self._param_names):
            grad_norm, weight_norm, delta = tail[k], tail[n_params + k], tail[2 * n_params + k]
            params_out.append({"name": name, "grad_norm": grad_norm, "delta_norm": delta, "weight_norm": weight_norm,
                               "update_ratio": delta / max(weight_norm, _TINY)})
        record = {"step": self._step, "phase": self._phase, "layers": layers, "params": params_out}
        self._reset()
        return record

    def _unpack_layers(self, values: list[float]) -> list[dict[str, Any]]:
        """Host side: the transferred numbers → the documented per-layer fields."""
        bins, rows, units = self.bins, len(self._lo), len(self._units)
        sc = values[:len(self._scalars)]
        at = len(sc)
        lo, hi = values[at:at + rows], values[at + rows:at + 2 * rows]
        at += 2 * rows
        dead = values[at:at + units]
        counts_at = at + units
        entries = self._entries
        layers = []
        for leaf, dup, slot, row, pos, extra, grad_at in entries:
            name, module = self.leaves[leaf]
            kind = self._leaf_kinds[leaf]
            if dup >= 0:  # a view of an earlier output: its numbers
                _, _, _, row, pos, _, _ = entries[dup]
            n = slot.n
            rec: dict[str, Any] = {"name": name, "type": type(module).__name__, "kind": kind, "numel": n,
                                   "mean": sc[pos] / n, "std": _std(sc[pos + 1], n), "lo": lo[row], "hi": hi[row]}
            if dup < 0 and kind == "relu":
                rec["dead_frac"] = dead[extra] / slot.units[1]
            elif dup < 0 and kind is not None:
                rec["saturated_frac"] = sc[extra] / n
            c = counts_at + row * bins
            rec["hist"] = list(map(int, values[c:c + bins]))
            if grad_at >= 0:
                rec["grad_mean"] = sc[grad_at] / n
                rec["grad_std"] = _std(sc[grad_at + 1], n)
            layers.append(rec)
        return layers

    def cancel(self) -> None:
        """Drop the capture in progress (hooks removed, nothing transferred)."""
        self._remove_hooks()
        self._reset()

    def close(self) -> None:
        """Remove every hook this recorder registered and release its buffers."""
        self.cancel()
        self._slots.clear()
        self._scratch.clear()
        self._layouts.clear()
        self._snapshot_buffers = []

    def __enter__(self) -> LayerStats:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _std(m2: float, n: int) -> float:
    """Population std from M2 = Σ(y − mean)²; NaN stays NaN."""
    return math.sqrt(max(m2, 0.0) / max(n, 1)) if m2 == m2 else float("nan")
