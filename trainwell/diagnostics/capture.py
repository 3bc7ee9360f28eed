"""`LayerStats`: per-layer activation/gradient statistics and update ratios on sampled steps.

How it measures, and what it costs:

* Hooks exist only while a sampled step is being captured: `start()` registers a forward hook on
  every *leaf* module (parameter-less ones — activations, pooling, flatten — included) and
  `finish()`/`cancel()`/`close()` remove them (`finish(keep_hooks=True)` keeps them for a next
  step that is captured too; they do nothing while no capture is active). Unsampled steps run
  the bare model. A layer whose output is a view of the previous one's (Flatten, reshape) costs
  no reduction: it repeats those numbers. Hooks never replace an output or a gradient.
* Two paths compute the same numbers (`backend`; tests run both and compare them):
  - **native** — a model on the CPU, when the C kernels of `trainwell.diagnostics.native` build
    (they are compiled on first use with the machine's C compiler and cached). The forward hook
    makes ONE pass over the output, while it is in cache: Σy and M2 (shifted by the first
    element: accurate even when |mean| ≫ std), min, max, the dead units (ReLU family) or the
    saturated count (tanh/sigmoid), and the histogram sample — written straight into host
    arrays. Each activation gradient is reduced the same way in its autograd pre-hook; after
    backward one call takes ‖g‖², ‖w‖² and the weight snapshot of every parameter; after the
    optimizer step one call takes ‖Δw‖ and one bins every histogram. Nothing is transferred:
    the numbers are in host memory already, and no tensor is read back.
  - **torch** — every other model (GPU) or where no compiler exists: a few ops per output whose
    small results stay on the device (Σy, M2, `torch.aminmax` or per-unit maxima, a saturated
    count, a `torch.take` sample), the activation gradients held to the end of backward and
    reduced with the parameter norms in one `_foreach_norm` call, then every number stacked into
    ONE flat tensor and brought back with ONE transfer (`to_host`) per sampled step. M2 there is
    one-pass (Σy² − (Σy)²/n in float64 on the host) while a layer's previous capture had
    |mean| ≤ ONE_PASS_MAX_RATIO·std, else two-pass (y − mean first, exact in float32).
* The histogram sample: every s-th element of the output, s coprime with the example size (so
  it walks through every unit and position), at most `hist_samples` of them, binned on the host
  over the layer's exact [min, max].
* Between sampled steps the recorder keeps, per leaf and output shape, the sample layout, and a
  copy of the weights (for Δw); `close()` releases them.

What it costs (`taskset -c 1 python bench/bench_stats_overhead.py`, MNIST-1D paper CNN, batch
100, 1 CPU thread; see README for the numbers): the native path adds about 0.5 ms to a sampled
step of ~2.4 ms, which is +3 to +4 % sampled every 10 steps and about +22 % every step; the
torch path adds 1–1.5 ms (+6.5 % / +45 %): ~50 small ops and numpy calls, run "cold" between
training steps.

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

import ctypes
import math
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from trainwell.diagnostics import stats as S
from trainwell.diagnostics.native import stats_kernels, why_unavailable
from trainwell.diagnostics.native import layouts as L
from trainwell.diagnostics.native.kernels import activation_layout, addresses
from trainwell.errors import UserError

_TINY = torch.finfo(torch.float32).tiny


def to_host(flat: torch.Tensor) -> np.ndarray:
    """The one device→host transfer of a sampled step (tests spy on this function)."""
    return flat.cpu().numpy()


def leaf_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) for every module without children; the model itself if it has none."""
    leaves = [(n, m) for n, m in model.named_modules() if next(m.children(), None) is None]
    return [(n or type(m).__name__, m) for n, m in leaves]


class _Layout:
    """What one leaf's reductions need to know about an output (cached per leaf, shape and — on the
    native path, which reads the memory in place — strides)."""

    __slots__ = ("shape", "strides", "device", "native", "n", "units", "count", "stride", "inv_n", "index", "width",
                 "native_layout", "native_addr", "host_sample", "scratch", "offsets", "copy")

    def __init__(self, shape: torch.Size, strides: tuple[int, ...] | None, kind: str | None, hist_samples: int | None,
                 device: torch.device, native: bool):
        self.shape, self.strides, self.device, self.native = shape, strides, device, native
        self.n = n = math.prod(shape)
        self.inv_n = -1.0 / n
        self.units = S.unit_shape(shape) if kind == "relu" else None
        per_example = n // shape[0] if len(shape) > 1 and shape[0] else n
        self.count, self.stride = S.sample_stride(n, hist_samples, per_example)
        # padded to hist_samples so that all layers' samples form one matrix
        self.width = self.count if hist_samples is None else max(hist_samples, self.count)
        if native:  # the C kernel reads the output in place and writes the sample into host memory of its own
            examples, units, positions = S.unit_shape(shape)
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


# the fields of one captured output (a list: cheaper to build than an object in a hot hook)
_LEAF, _DUP, _LAYOUT, _AT, _EXACT, _UNITS, _ROW, _GRAD_AT, _GRAD_EXACT = range(9)


class LayerStats:
    """Records per-layer statistics of `model` on sampled steps (see the module docstring).

    Args:
        model: the network to observe (never modified; hooks are removed after each capture).
        every: sample steps with `step % every == 0`; `sample_next()` forces the next one.
        bins: histogram bin count.
        include_eval: also record when the root model is in eval mode (default: training only).
        hist_samples: histogram a fixed systematic sample of at most this many elements per layer
            (None: all of them). Mean, std, range, dead and saturated fractions always use every
            element; the sample only shapes the histogram, whose counts then sum to its size.
        backend: "auto" (the C kernels for a model on the CPU when they can be built, else torch
            ops), "native" (the C kernels; an error if they cannot be built) or "torch".
    """

    def __init__(
        self,
        model: nn.Module,
        every: int = 10,
        bins: int = 40,
        include_eval: bool = False,
        hist_samples: int | None = 1024,
        backend: str = "auto",
    ):
        if not isinstance(model, nn.Module):
            raise UserError(f"LayerStats: expected an nn.Module, found {type(model).__name__}")
        if every < 1:
            raise UserError(f"LayerStats: every must be ≥ 1 (steps between samples), found {every}")
        if bins < 1:
            raise UserError(f"LayerStats: bins must be ≥ 1, found {bins}")
        if hist_samples is not None and hist_samples < 1:
            raise UserError(f"LayerStats: hist_samples must be ≥ 1 or None, found {hist_samples}")
        if backend not in BACKENDS:
            raise UserError(f"LayerStats: backend must be one of {', '.join(BACKENDS)}, found {backend!r}")
        self.kernels = None if backend == "torch" else stats_kernels()
        if backend == "native" and self.kernels is None:
            raise UserError(f"LayerStats: the native statistics kernels are not available ({why_unavailable()}); "
                            "use backend='auto' or 'torch'")
        self.backend = backend
        self.model = model
        self.every = int(every)
        self.bins = int(bins)
        self.include_eval = include_eval
        self.hist_samples = hist_samples
        self.leaves = leaf_modules(model)
        self.kinds = {id(m): S.activation_kind(m) for _, m in self.leaves}
        self._leaf_kinds = [self.kinds[id(m)] for _, m in self.leaves]
        self._hooks = [_ForwardHook(self, i) for i in range(len(self.leaves))]
        self.params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self._layouts: dict[tuple[Any, ...], _Layout] = {}
        self._last_layout: list[_Layout | None] = [None] * len(self.leaves)
        self._unit_layouts: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray, list[int]]] = {}
        # torch path: leaves whose last capture had |mean| > ONE_PASS_MAX_RATIO·std (or none yet): two-pass M2
        self._exact_act: set[int] = set(range(len(self.leaves)))
        self._exact_grad: set[int] = set(range(len(self.leaves)))
        # native path: one row [Σy, M2, min, max, count] per reduced output, written by the C kernel
        self._act_host = np.empty((max(len(self.leaves), 1), 5))
        self._act_base = self._act_host.ctypes.data
        self._grad_host = np.empty((max(len(self.leaves), 1), 2))  # native path: [Σg, M2] per gradient
        self._grad_base = self._grad_host.ctypes.data
        self._counts_host = np.empty((max(len(self.leaves), 1), self.bins), dtype=np.int64)  # native: histograms
        self._counts_base = self._counts_host.ctypes.data
        self._row_plans: dict[tuple[_Layout, ...], tuple[ctypes.Array, np.ndarray]] = {}
        self._snapshot_buffers: list[torch.Tensor] = []
        self._snapshot_shapes: list[Any] = []
        self._plan: _ParamPlan | None = None
        self._forced = False
        self._handles: list[RemovableHandle] = []
        self._generation = 0
        self._native = False
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

    @property
    def native(self) -> bool:
        """True when captures use the C kernels: they are available and the model is on the CPU."""
        return self.kernels is not None and self._on_cpu()

    # ------------------------------------------------------------------ capture
    def _reset(self) -> None:
        self._step: int | None = None
        self._phase = "train"
        self._entries: list[list[Any]] = []  # one per captured output, fields _LEAF … _GRAD_EXACT
        self._reduced = 0  # outputs reduced so far (a row each)
        self._scalars: list[torch.Tensor] = []  # torch path, per reduced output: Σy, M2 or Σy², min, max[, saturated]
        self._units: list[torch.Tensor] = []  # torch path: per-unit maxima of the ReLU family
        self._samples: list[torch.Tensor] = []  # torch path: histogram samples
        self._grads: list[torch.Tensor] = []  # torch path: activation gradients until the end of backward
        self._n_grads = 0  # activation gradients seen
        self._grad_parts: list[torch.Tensor] = []  # torch path: Σg of every gradient, then √M2 or ‖g‖
        self._seen = [False] * len(self.leaves)
        self._prev: torch.Tensor | None = None  # the last captured output (see _forward_hook)
        self._with_grad: list[torch.Tensor] = []
        self._param_names: list[str] = []
        self._param_parts: list[torch.Tensor] = []  # torch path: ‖g‖ of every parameter, then ‖w‖
        self._param_native = False  # native path: the kernels took the parameters (rows of _plan.out)
        self._snapshot: list[torch.Tensor] | None = None
        self._generation += 1  # stale gradient hooks check this

    def _remove_hooks(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def start(self, step: int, phase: str = "train") -> None:
        """Register the hooks for one captured step (`phase` labels the record).

        Hooks kept by `finish(keep_hooks=True)` are reused instead of registered again."""
        if self.active:
            self.cancel()
        self._forced = False
        self._step, self._phase = int(step), phase
        self._native = self.kernels is not None and self._on_cpu()
        if not self._handles:
            self._handles = [m.register_forward_hook(h) for (_, m), h in zip(self.leaves, self._hooks)]

    def _on_cpu(self) -> bool:
        """The model's first parameter (or buffer) is on the CPU (a parameter-less model counts as such)."""
        for _, p in self.params[:1]:
            return p.device.type == "cpu"
        for b in self.model.buffers():
            return b.device.type == "cpu"
        return True

    def _layout(self, leaf: int, shape: torch.Size, strides: tuple[int, ...] | None, device: torch.device) -> _Layout:
        key = (leaf, shape, strides, device, self._native)
        layout = self._layouts.get(key)
        if layout is None:
            if len(self._layouts) > 4 * len(self.leaves) + 16:  # shapes that keep changing
                self._layouts.clear()
                self._row_plans.clear()
            layout = self._layouts[key] = _Layout(shape, strides, self._leaf_kinds[leaf], self.hist_samples, device,
                                                  self._native)
        self._last_layout[leaf] = layout
        return layout

    def _forward_hook(self, leaf: int, module: nn.Module, args: Any, output: Any) -> None:
        if self._step is None or self._seen[leaf] or not isinstance(output, torch.Tensor) or not output.is_floating_point():
            return
        if output.numel() == 0 or output.layout != torch.strided or (not self.model.training and not self.include_eval):
            return
        self._seen[leaf] = True
        y = output.detach()
        shape, device, native = y.shape, y.device, self._native
        # native path: float32 CPU memory, read in place (its strides pick the layout)
        y32 = y if not native or (y.dtype == torch.float32 and device.type == "cpu") else y.to("cpu", torch.float32)
        strides = y32.stride() if native else None
        last = self._last_layout[leaf]  # the layout of this leaf's previous output, usually the same
        layout = last if last is not None and last.shape == shape and last.strides == strides \
            and last.device == device and last.native == native else self._layout(leaf, shape, strides, device)
        kind = self._leaf_kinds[leaf]
        entry = [leaf, -1, layout, -1, False, -1, -1, -1, False]
        prev = self._prev
        if (kind is None and prev is not None and prev.data_ptr() == y.data_ptr() and prev.numel() == layout.n
                and prev.dtype == y.dtype and prev._version == y._version):
            # Flatten / reshape: a view of the previous output repeats its numbers
            before = self._entries[-1]
            entry[_DUP] = before[_DUP] if before[_DUP] >= 0 else len(self._entries) - 1
        else:
            entry[_ROW] = self._reduced
            self._reduced += 1
            if native:
                # every statistic in one pass of the C kernel, into host memory: row _ROW of _act_host
                if layout.copy:
                    y32 = y32.contiguous()  # (a name keeps the copy alive during the call)
                self.kernels.activation(y32.data_ptr(), layout.native_addr, self._act_base + 40 * entry[_ROW])
            else:
                self._reduce(y, entry, kind, layout)
        self._prev = y  # kept until the next output: its memory cannot be reused meanwhile
        self._entries.append(entry)
        if output.requires_grad:
            node = output.grad_fn
            if node is not None:  # a pre-hook of the node that consumes this output's gradient
                node.register_prehook(partial(self._grad_prehook, self._generation, entry, output.output_nr))
            else:
                output.register_hook(partial(self._grad_hook, self._generation, entry))

    def _reduce(self, y: torch.Tensor, entry: list[Any], kind: str | None, layout: _Layout) -> None:
        """Torch path: Σy, M2 (or Σy²), min, max or per-position maxima, saturated count, histogram sample."""
        if y.dtype != torch.float32:  # float16/bfloat16 under autocast: statistics in float32
            y = y.float()
        flat = y.reshape(-1)
        scalars = self._scalars
        entry[_AT] = len(scalars)
        total = flat.sum()
        if entry[_LEAF] in self._exact_act:
            entry[_EXACT] = True
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
            entry[_UNITS] = len(self._units)
            self._units.append(flat.view(n, c * p).amax(0))  # per unit and position; the host takes the rest
        else:
            scalars += torch.aminmax(flat)
            if kind is not None:
                scalars.append(S.saturated_count(flat, kind))
        # a copy (y may change in place later in the forward pass) of every stride-th element
        self._samples.append(torch.take(flat, layout.index))

    def _grad_prehook(self, generation: int, entry: list[Any], index: int,
                      grad_outputs: tuple[torch.Tensor | None, ...]) -> None:
        """Node pre-hook: the gradient of output `index` of the node (never replaced)."""
        self._grad_hook(generation, entry, grad_outputs[index])

    def _grad_hook(self, generation: int, entry: list[Any], grad: torch.Tensor | None) -> None:
        if generation != self._generation or grad is None or entry[_GRAD_AT] >= 0:
            return  # a backward after finish/cancel, or a second backward through the graph: the first counts
        self._prev = None  # the forward pass is over
        entry[_GRAD_AT] = k = self._n_grads
        self._n_grads += 1
        if self._native:  # reduced at once, while it is in cache: row k of _grad_host (any dense order)
            g32 = grad if grad.dtype == torch.float32 and grad.device.type == "cpu" else grad.to("cpu", torch.float32)
            if not _dense(g32):
                g32 = g32.contiguous()
            self.kernels.moments_one(g32.data_ptr(), g32.numel(), self._grad_base + 16 * k)
        else:
            self._grads.append(grad)  # reduced with the others after backward (see _grad_inputs)

    def _grad_inputs(self) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Torch path: (Σg of every held activation gradient, the tensors whose norms give ‖g‖ or ‖g − mean‖).

        A gradient is held from its hook to the end of backward — by then the activations saved
        for backward, which are as large, have been freed — and the norms are taken by the
        caller's one `_foreach_norm` call."""
        grads, self._grads = self._grads, []
        if not grads:
            return [], []
        flats = [g if g.dtype == torch.float32 else g.float() for g in grads]
        sums = [g.sum() for g in flats]
        if self._exact_grad:
            for e in self._entries:
                k = e[_GRAD_AT]
                if k >= 0 and e[_LEAF] in self._exact_grad:  # two passes: g − mean first
                    e[_GRAD_EXACT] = True
                    flats[k] = torch.add(flats[k], sums[k], alpha=e[_LAYOUT].inv_n)
        return sums, flats

    @torch.no_grad()
    def after_backward(self) -> None:
        """Gradient and weight norms and a weight snapshot; call after backward, before `optimizer.step()`.

        Native path: one kernel call takes ‖g‖², ‖w‖² and the snapshot of every parameter (the
        activation gradients were reduced in their hooks). Torch path: one `_foreach_norm` call
        takes the activation-gradient norms and ‖g‖, ‖w‖ of every parameter."""
        if not self.active:
            return
        with_grad = [(n, p) for n, p in self.params if p.grad is not None]
        self._param_names = [n for n, _ in with_grad]
        self._with_grad = weights = [p for _, p in with_grad]
        plan = self._param_plan(weights) if self._native and weights else None
        if plan is not None and all(_dense(p.grad) for p in weights):
            # one kernel call: Σg², Σw² and the snapshot (the gradients of float32 CPU weights are float32 CPU)
            self.kernels.param_stats_raw(len(weights), addresses([p.grad for p in weights]), plan.weights,
                                         plan.snapshots, plan.lens, plan.out_addr)
            self._param_native = True
            self._snapshot = plan.buffers
            return
        # torch ops: the held activation gradients (torch path) and the parameters in one _foreach_norm
        sums, act_grads = ([], []) if self._native else self._grad_inputs()
        norms = list(torch._foreach_norm(act_grads + [p.grad for p in weights] + weights)) if act_grads or weights else []
        self._grad_parts = sums + norms[:len(act_grads)]
        self._param_parts = norms[len(act_grads):]
        if with_grad:  # the snapshot reuses its buffers
            shapes = [(w.shape, w.dtype, w.device) for w in weights]
            if shapes != self._snapshot_shapes:
                self._snapshot_buffers = [torch.empty_like(w, memory_format=torch.contiguous_format) for w in weights]
                self._snapshot_shapes = shapes
            torch._foreach_copy_(self._snapshot_buffers, weights)
            self._snapshot = self._snapshot_buffers

    def _param_plan(self, weights: list[torch.Tensor]) -> _ParamPlan | None:
        """Native path: the weights' and snapshots' addresses, rebuilt when a weight moves; None when
        a weight is not a C-contiguous float32 CPU tensor (the torch ops then take the parameters)."""
        key = tuple((w.data_ptr(), w.numel()) for w in weights)
        plan = self._plan
        if plan is None or plan.key != key:
            plan = self._plan = _ParamPlan(key, weights) if all(_plain_float32(w) for w in weights) else None
        return plan

    # ------------------------------------------------------------------ finish
    @torch.no_grad()
    def finish(self, keep_hooks: bool = False) -> dict[str, Any]:
        """Update norms (if `after_backward` ran), the single transfer, the record.

        The hooks are removed unless `keep_hooks` (the next step is captured too: `start()` then
        reuses them; while no capture is active they return at once)."""
        if not self.active:
            raise UserError("LayerStats.finish() called without start(): no step is being captured")
        if not keep_hooks:
            self._remove_hooks()
        if self._native:
            act, counts, grad, params = self._finish_native()
        else:
            act, counts, grad, params = self._finish_torch()
        record = {"step": self._step, "phase": self._phase, "layers": self._layers(act, counts, grad),
                  "params": self._params(params)}
        self._reset()
        return record

    def _finish_native(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Native path: everything is in host memory already — no transfer at all."""
        n_params = len(self._param_names)
        plan = self._plan
        if self._param_native and plan.key != tuple((w.data_ptr(), w.numel()) for w in self._with_grad):
            # a weight was given new memory during the step (`p.data = …`): Δw from torch ops (NaN if resized)
            params = np.sqrt(plan.out)
            params[:, 2] = [float((w.detach().float().reshape(b.shape) - b).norm()) if w.numel() == b.numel()
                            else float("nan") for b, w in zip(self._snapshot, self._with_grad)]
        elif self._param_native:  # ‖g‖, ‖w‖, ‖Δw‖ into the rows of plan.out
            self.kernels.param_finish_raw(n_params, plan.snapshots, plan.weights, plan.lens, plan.out_addr)
            params = plan.out
        elif n_params:  # parameters the kernels do not take (not float32, not contiguous): torch norms
            norms = [float(t) for t in self._param_parts]
            deltas = [float(t) for t in torch._foreach_norm(torch._foreach_sub_(self._snapshot, self._with_grad))]
            params = np.array([norms[:n_params], norms[n_params:], deltas]).T
        else:
            params = np.empty((0, 3))
        reduced = self._reduced
        rows, sizes = self._sample_rows(tuple(e[_LAYOUT] for e in self._entries if e[_DUP] < 0))
        counts = self._counts_host[:reduced]
        # lo and hi are columns 2 and 3 of _act_host (a row of 5 float64 per output)
        self.kernels.histograms_raw(rows, reduced, sizes.ctypes.data, self._act_base + 16, self._act_base + 24, 5,
                                    self.bins, self._counts_base)
        return self._act_host[:reduced], counts, self._grad_host[:self._n_grads], params

    def _sample_rows(self, layouts: tuple[_Layout, ...]) -> tuple[ctypes.Array, np.ndarray]:
        """Native path: the C array of the layouts' sample addresses and their sample sizes (cached)."""
        found = self._row_plans.get(layouts)
        if found is None:
            if len(self._row_plans) > 16:
                self._row_plans.clear()
            rows = (ctypes.c_void_p * max(len(layouts), 1))(*[lay.host_sample.ctypes.data for lay in layouts])
            found = self._row_plans[layouts] = (rows, np.array([lay.count for lay in layouts], dtype=np.int64))
        return found

    def _finish_torch(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Torch path: ‖Δw‖, then every number in ONE flat tensor and ONE transfer (`to_host`)."""
        if self._grads:  # no after_backward: the activation gradients only
            sums, act_grads = self._grad_inputs()
            self._grad_parts = sums + list(torch._foreach_norm(act_grads))
        scalars = self._scalars + self._grad_parts
        if self._snapshot is not None:
            deltas = torch._foreach_sub_(self._snapshot, self._with_grad)  # w_before − w_after
            scalars += self._param_parts + list(torch._foreach_norm(deltas))
        if scalars:
            device = scalars[0].device  # a model split over devices: everything joins the first one
            head = torch.stack([t if t.dtype == torch.float32 and t.device == device else t.to(device, torch.float32)
                                for t in scalars])
            flat = torch.cat([head, *self._units, *self._samples]) if self._samples else head
            values = to_host(flat)
        else:
            values = np.zeros(0, dtype=np.float32)
        n_params = len(self._param_names)
        n_head = len(self._scalars) + len(self._grad_parts) + 3 * n_params
        head_values = values[:n_head].astype(np.float64)
        at = n_head
        n_units = sum(u.numel() for u in self._units)
        dead, unit_hi, unit_counts = self._unit_numbers(values[at:at + n_units]) if n_units else ([], [], [])
        at += n_units
        act = self._torch_act_rows(head_values, dead, unit_hi)
        grad = self._torch_grad_rows(head_values)
        start = len(self._scalars) + len(self._grad_parts)
        params = head_values[start:start + 3 * n_params].reshape(3, n_params).T.copy()
        layouts = [e[_LAYOUT] for e in self._entries if e[_DUP] < 0]
        widths = {lay.width for lay in layouts}
        sizes = [lay.count for lay in layouts]
        width = widths.pop() if len(widths) == 1 else None  # one matrix of padded rows, or rows back to back
        samples = values[at:] if width is not None else values[at:at + sum(sizes)]
        counts = S.histograms_host(samples, sizes, act[:, 2], act[:, 3], self.bins, width)
        return act, counts, grad, params

    def _torch_act_rows(self, head: np.ndarray, dead: list[int], unit_hi: list[float]) -> np.ndarray:
        """[Σy, M2, min, max, count] per reduced output from the transferred torch-path scalars."""
        reduced = [e for e in self._entries if e[_DUP] < 0]
        act = np.zeros((len(reduced), 5))
        for r, e in enumerate(reduced):
            first, n = e[_AT], e[_LAYOUT].n
            total = head[first]
            act[r, 0], act[r, 1], act[r, 2] = total, _m2(total, head[first + 1], n, e[_EXACT]), head[first + 2]
            if e[_UNITS] >= 0:
                act[r, 3], act[r, 4] = unit_hi[e[_UNITS]], dead[e[_UNITS]]
            else:
                act[r, 3] = head[first + 3]
                if self._leaf_kinds[e[_LEAF]] is not None:
                    act[r, 4] = head[first + 4]
        return act

    def _torch_grad_rows(self, head: np.ndarray) -> np.ndarray:
        """[Σg, M2] per activation gradient from the transferred torch-path sums and norms."""
        half = len(self._grad_parts) // 2
        at = len(self._scalars)
        grad = np.zeros((half, 2))
        for e in self._entries:
            g = e[_GRAD_AT]
            if g >= 0:
                total, norm = head[at + g], head[at + half + g]
                grad[g] = total, _m2(total, norm * norm, e[_LAYOUT].n, e[_GRAD_EXACT])
        return grad

    def _params(self, params: np.ndarray) -> list[dict[str, Any]]:
        out = []
        for name, (grad_norm, weight_norm, delta) in zip(self._param_names, params.tolist()):
            out.append({"name": name, "grad_norm": grad_norm, "delta_norm": delta, "weight_norm": weight_norm,
                        "update_ratio": delta / max(weight_norm, _TINY)})
        return out

    def _unit_numbers(self, per_position: np.ndarray) -> tuple[list[int], list[float], list[int]]:
        """Torch path: dead-unit counts, maxima and unit counts of the ReLU-family layers, from their
        per-position maxima back to back (layer by layer, C units × P positions each): three numpy calls."""
        shapes = tuple(u.numel() for u in self._units)
        layout = self._unit_layouts.get(shapes)
        if layout is None:
            units = [e[_LAYOUT].units for e in self._entries if e[_UNITS] >= 0]
            unit_starts = np.cumsum([0] + [p for _, c, p in units for _ in range(c)])[:-1]
            layer_starts = np.cumsum([0] + [c for _, c, _ in units])[:-1]
            layout = self._unit_layouts[shapes] = (unit_starts, layer_starts, [c for _, c, _ in units])
        unit_starts, layer_starts, counts = layout
        unit_max = np.maximum.reduceat(per_position, unit_starts)
        dead = np.add.reduceat(unit_max <= 0, layer_starts, dtype=np.int64).tolist()
        return dead, np.maximum.reduceat(unit_max, layer_starts).astype(np.float64).tolist(), counts

    def _layers(self, act: np.ndarray, hist: np.ndarray, grad: np.ndarray) -> list[dict[str, Any]]:
        """Host side: per reduced output [Σy, M2, min, max, count] and histogram counts, per gradient
        [Σg, M2] → the documented per-layer fields."""
        entries = self._entries
        kinds = self._leaf_kinds
        counts = hist.tolist()
        rows = act.tolist()
        grads = grad.tolist()
        exact_act, exact_grad = self._exact_act, self._exact_grad
        layers = []
        for e in entries:
            leaf, layout = e[_LEAF], e[_LAYOUT]
            name, module = self.leaves[leaf]
            kind = kinds[leaf]
            n = layout.n
            row = entries[e[_DUP]][_ROW] if e[_DUP] >= 0 else e[_ROW]
            total, m2, low, high, count = rows[row]
            mean, std = total / n, _std(m2, n)
            rec: dict[str, Any] = {"name": name, "type": type(module).__name__, "kind": kind, "numel": n,
                                   "mean": mean, "std": std, "lo": low, "hi": high}
            if e[_DUP] < 0:
                if kind == "relu":
                    rec["dead_frac"] = count / layout.units[1]
                elif kind is not None:
                    rec["saturated_frac"] = count / n
                _choose_pass(exact_act, leaf, mean, std)
            rec["hist"] = counts[row]
            g = e[_GRAD_AT]
            if g >= 0:
                total, m2 = grads[g]
                rec["grad_mean"] = gm = total / n
                rec["grad_std"] = gs = _std(m2, n)
                _choose_pass(exact_grad, leaf, gm, gs)
            layers.append(rec)
        return layers

    def cancel(self) -> None:
        """Drop the capture in progress (hooks removed, nothing transferred)."""
        self._remove_hooks()
        self._reset()

    def close(self) -> None:
        """Remove every hook this recorder registered and release its buffers."""
        self.cancel()
        self._layouts.clear()
        self._row_plans.clear()
        self._last_layout = [None] * len(self.leaves)
        self._unit_layouts.clear()
        self._snapshot_buffers = []
        self._snapshot_shapes = []
        self._plan = None

    def __enter__(self) -> LayerStats:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _ParamPlan:
    """Native path: C arrays of the weights' addresses, of their snapshot buffers' and of their sizes,
    and the rows [‖g‖, ‖w‖, ‖Δw‖] the kernels fill."""

    __slots__ = ("key", "buffers", "weights", "snapshots", "sizes", "lens", "out", "out_addr")

    def __init__(self, key: tuple[int, ...], weights: list[torch.Tensor]):
        self.key = key
        self.buffers = [torch.empty_like(w) for w in weights]
        self.weights, self.snapshots = addresses(weights), addresses(self.buffers)
        self.sizes = np.array([w.numel() for w in weights], dtype=np.int64)
        self.lens = self.sizes.ctypes.data
        self.out = np.zeros((len(weights), 3))
        self.out_addr = self.out.ctypes.data


class _ForwardHook:
    """The forward hook of one leaf. A deep copy or a pickle of the model (an EMA copy, `torch.save`
    of the module) gets an `_InertHook` in its place: a copy is not observed, and the recorder —
    which holds tensors and the C library — is neither copied nor pickled."""

    __slots__ = ("stats", "leaf")

    def __init__(self, stats: LayerStats, leaf: int):
        self.stats, self.leaf = stats, leaf

    def __call__(self, module: nn.Module, args: Any, output: Any) -> None:
        self.stats._forward_hook(self.leaf, module, args, output)

    def __reduce__(self) -> tuple[type, tuple[()]]:
        return _InertHook, ()


class _InertHook:
    """What a copied `_ForwardHook` becomes: a hook that does nothing."""

    def __call__(self, module: nn.Module, args: Any, output: Any) -> None:
        return None


BACKENDS = ("auto", "native", "torch")
ONE_PASS_MAX_RATIO = 3.0


def _plain_float32(t: torch.Tensor) -> bool:
    """A dense float32 CPU tensor (any memory order): what the kernels read in place when the order
    does not matter (sums of squares, the weight snapshot — whose buffer has the same strides)."""
    return t.dtype == torch.float32 and t.device.type == "cpu" and _dense(t)


def _dense(t: torch.Tensor) -> bool:
    """Contiguous, or gap-free in another order (channels-last); see `layouts.is_dense`."""
    return t.is_contiguous() or L.is_dense(t.shape, t.stride())


def _choose_pass(exact: set[int], leaf: int, mean: float, std: float) -> None:
    """Torch path: two-pass M2 next time for `leaf` when |mean| > ONE_PASS_MAX_RATIO·std (or NaN), else one.

    A float32 Σy² − (Σy)²/n loses about ε·(mean/std)² of its value to cancellation (measured:
    ≤ 2.7e-6 relative at mean/std = 3, 2e-4 at 30); two passes cost two more reads of the output.
    (The C kernels shift by the first element instead and need neither.)"""
    if std == std and abs(mean) <= ONE_PASS_MAX_RATIO * std:
        exact.discard(leaf)
    else:
        exact.add(leaf)


def _m2(total: float, q: float, n: int, two_pass: bool) -> float:
    """M2 = Σ(y − mean)²: q itself after two passes, Σy² − (Σy)²/n (float64) after one."""
    return q if two_pass else q - total * total / n


def _std(m2: float, n: int) -> float:
    """Population std from M2 = Σ(y − mean)²; NaN stays NaN."""
    return math.sqrt(max(m2, 0.0) / max(n, 1)) if m2 == m2 else float("nan")
