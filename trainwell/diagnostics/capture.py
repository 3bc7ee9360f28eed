"""`LayerStats`: per-layer activation/gradient statistics and update ratios on sampled steps.

How it measures, and what it costs:

* Hooks exist only while a sampled step is being captured: `start()` registers a forward hook on
  every *leaf* module (parameter-less ones — activations, pooling, flatten — included) and
  `finish()`/`cancel()`/`close()` remove them (`finish(keep_hooks=True)` keeps them for a next
  step that is captured too; they do nothing while no capture is active). Unsampled steps run
  the bare model. Hooks never replace an output or a gradient: a sampled step trains exactly
  like an unsampled one.
* What is observed: every leaf's output, and a leaf's input when an activation applied as a
  function made it (`F.relu`, `torch.tanh`, … in a `forward`, seen through views and reshapes;
  `stats.FUNCTION_NODES`): what the next layer receives. Such an input is recorded as layer
  "<leaf>:input" with `"type"` the function and `"input_of"` the leaf. Found from the autograd
  graph, so only while gradients are recorded (training, not `torch.no_grad` evaluation).
* Each observed tensor is reduced at once by 5–6 torch ops whose results stay on the device,
  written into preallocated buffers (`capture_torch.Reducer`); each activation gradient by 2 in
  its autograd hook. After backward one `_foreach_norm` takes ‖g‖, ‖w‖ of every parameter and
  one `_foreach_copy_` snapshots the weights; after the optimizer step ‖Δw‖ comes from that
  snapshot. `finish` brings every number back with ONE device→host transfer and builds the
  record; nothing else reads a tensor back (no `.item()`, no sync per layer).
* A layer whose output is a view of the previous tensor's (Flatten, reshape) costs no
  reduction: it repeats those numbers.
* The histogram sample: every s-th element, s coprime with the example size (so it walks through
  every unit and position), at most `hist_samples` of them, binned on the host over the layer's
  exact [min, max].
* A model compiled with `torch.compile` (or containing compiled modules): hooks go on the
  original modules (`_orig_mod`, its name prefix dropped from the record), and a captured step
  runs eagerly (`torch.compiler.set_stance("force_eager")` from `start()` to `finish()`):
  compiled code skips hooks added after it was traced (dynamo does not guard on hooks by
  default), and tracing a forward pass that calls these hooks fails. Unsampled steps run the
  compiled code, and no hook is left on a compiled model between captures.

What it costs (`taskset -c 1 python bench/bench_stats_overhead.py`, MNIST-1D paper CNN, batch 100,
1 CPU thread): see README.

Record (JSON-serialisable; `layers` in forward order, `params` in `named_parameters` order):

    {"step": 20, "phase": "train",
     "layers": [{"name": "0", "type": "Linear", "kind": null, "numel": 1600,
                 "mean": .., "std": .., "lo": .., "hi": .., "hist": [40 counts],
                 "grad_mean": .., "grad_std": ..},
                {"name": "1", "type": "ReLU", "kind": "relu", ..., "dead_frac": 0.03, ...},
                {"name": "2:input", "type": "relu", "kind": "relu", ..., "input_of": "2"}],
     "params": [{"name": "0.weight", "grad_norm": .., "delta_norm": .., "weight_norm": ..,
                 "update_ratio": ..}]}

The histogram's bins split [lo, hi] evenly. A module called several times within one captured
step (a shared block, evaluation in chunks) reports its first call. Grad norms are taken before
any gradient clipping the loop does after `on_after_backward`.

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

import contextlib
import math
import sys
from functools import partial
from itertools import repeat
from operator import attrgetter, is_
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from trainwell.diagnostics import stats as S
from trainwell.diagnostics.capture_layout import (DUP, GRAD, Layout,
                                                  memory_order)
from trainwell.diagnostics.capture_torch import ONE_PASS_MAX_RATIO, Reducer
from trainwell.errors import UserError

_TINY = torch.finfo(torch.float32).tiny
_WALK = 8  # shape-only nodes looked through to find the activation that made a leaf's input
_GRAD = attrgetter("grad")
_OWN_FIELDS = frozenset({"dead_frac", "saturated_frac", "grad_mean", "grad_std", "input_of"})  # not repeated
_ZERO = 0.0  # (_ZERO.__ge__(u): the unit's maximum u ≤ 0, i.e. a dead unit; False for NaN)
_FLOAT_DTYPES = frozenset({torch.float32, torch.float16, torch.bfloat16, torch.float64})

__all__ = ["LayerStats", "leaf_modules"]


def _clean(name: str) -> str:
    """A module or parameter name without torch.compile's `_orig_mod` wrappers."""
    return ".".join(part for part in name.split(".") if part != "_orig_mod")


def leaf_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) for every module without children; the model itself if it has none.
    Names are those of the uncompiled model (torch.compile's `_orig_mod.` left out)."""
    leaves = [(_clean(n), m) for n, m in model.named_modules() if next(m.children(), None) is None]
    return [(n or type(m).__name__, m) for n, m in leaves]


def _compiled(model: nn.Module) -> bool:
    """True when `model` is or contains a torch.compile'd module (wrapper or `Module.compile()`)."""
    if "torch._dynamo" not in sys.modules:  # nothing was ever compiled in this process
        return False
    from torch._dynamo.eval_frame import OptimizedModule

    return any(isinstance(m, OptimizedModule) or getattr(m, "_compiled_call_impl", None) is not None
               for m in model.modules())


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
    """

    def __init__(
        self,
        model: nn.Module,
        every: int = 10,
        bins: int = 40,
        include_eval: bool = False,
        hist_samples: int | None = 1024,
    ):
        if not isinstance(model, nn.Module):
            raise UserError(f"LayerStats: expected an nn.Module, found {type(model).__name__}")
        if every < 1:
            raise UserError(f"LayerStats: every must be ≥ 1 (steps between samples), found {every}")
        if bins < 1:
            raise UserError(f"LayerStats: bins must be ≥ 1, found {bins}")
        if hist_samples is not None and hist_samples < 1:
            raise UserError(f"LayerStats: hist_samples must be ≥ 1 or None, found {hist_samples}")
        self.model = model
        root = model
        while isinstance(getattr(root, "_orig_mod", None), nn.Module):  # torch.compile's wrapper
            root = root._orig_mod
        self._root = root  # whose training flag tells training from evaluation
        self.every = int(every)
        self.bins = int(bins)
        self.include_eval = include_eval
        self.hist_samples = hist_samples
        self.leaves = leaf_modules(model)
        n = len(self.leaves)
        self._n_leaves = n
        self._leaf_kinds = [S.activation_kind(m) for _, m in self.leaves]
        # leaves whose output an activation function may have made: modules not from torch.nn
        self._custom = [not type(m).__module__.startswith("torch.nn.") for _, m in self.leaves]
        # sites: leaf i's output (i) and leaf i's input (n + i)
        self._site_names = [name for name, _ in self.leaves] + [f"{name}:input" for name, _ in self.leaves]
        self._site_types = [type(m).__name__ for _, m in self.leaves] + [""] * n
        self._hooks = [_ForwardHook(self, i) for i in range(n)]
        self.params = [(_clean(name), p) for name, p in model.named_parameters() if p.requires_grad]
        self._all_param_names, self._param_tensors = [n for n, _ in self.params], [p for _, p in self.params]
        self._layouts: dict[tuple[Any, ...], Layout] = {}
        self._last_layout: list[Layout | None] = [None] * (2 * n)
        self._reducer = Reducer(2 * n)
        self._forced = False
        self._handles: list[RemovableHandle] = []
        self._eager: contextlib.ExitStack | None = None  # the force_eager stance of a compiled model's capture
        self._compiled = _compiled(model)  # (also checked at each start: the root compiled in place later)
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
        self._entries: list[list[Any]] = []  # one per captured tensor (fields: capture_layout.SITE …)
        self._seen = [False] * (2 * len(self.leaves))  # sites reported in this capture
        self._nodes: set[Any] = set()  # autograd nodes of the captured tensors (inputs already seen)
        self._prev: torch.Tensor | None = None  # the last captured tensor (see _record)
        self._weights: list[torch.Tensor] = []
        self._param_names: list[str] = []
        self._snapshot: list[torch.Tensor] | None = None
        self._reducer.reset()
        self._generation += 1  # stale gradient hooks check this

    def _end(self, keep_hooks: bool = False) -> None:
        """Hooks removed (unless kept for the next captured step), the eager stance left."""
        if self._eager is not None:
            self._eager.close()
            self._eager = None
            keep_hooks = False  # a compiled model's next forward may be traced: no hook may be there
        if not keep_hooks:
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
        if self._compiled or getattr(self.model, "_compiled_call_impl", None) is not None:
            self._eager = contextlib.ExitStack()
            self._eager.enter_context(torch.compiler.set_stance("force_eager"))
        if not self._handles:
            self._handles = [m.register_forward_hook(h) for (_, m), h in zip(self.leaves, self._hooks)]

    def _layout(self, site: int, y: torch.Tensor, kind: str | None, channels_last: bool) -> Layout:
        """The cached layout of `site` for y's shape (a new one when the shape, kind or device changed)."""
        shape, device = y.shape, y.device
        key = (site, shape, kind, channels_last, device)
        layout = self._layouts.get(key)
        if layout is None:
            if len(self._layouts) > 2 * len(self._last_layout) + 16:  # shapes that keep changing
                self._layouts.clear()
            with torch.inference_mode(False):  # buffers written in later steps, whatever mode this one runs in
                layout = self._layouts[key] = Layout(shape, kind, self.hist_samples, device, channels_last)
        self._last_layout[site] = layout
        return layout

    def _forward_hook(self, leaf: int, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        if not self._root.training and not self.include_eval:
            return
        seen = self._seen
        if args:  # an input an activation function made (what this leaf receives), unless captured already
            x = args[0]
            if type(x) is torch.Tensor and x is not output:
                node = x.grad_fn
                if node is not None and node not in self._nodes and not seen[self._n_leaves + leaf]:
                    self._input(leaf, x, node)
        if seen[leaf] or not isinstance(output, torch.Tensor) or output.dtype not in _FLOAT_DTYPES:
            return
        if output.layout is not torch.strided or output.numel() == 0:
            return
        seen[leaf] = True
        kind = self._leaf_kinds[leaf]
        if kind is None and self._custom[leaf]:  # a custom leaf whose forward ends in F.relu, …
            node = output.grad_fn
            if node is not None:
                found = S.FUNCTION_NODES.get(type(node).__name__)
                if found is not None:
                    kind = found[0]
        self._record(leaf, output, kind, None)

    def _input(self, leaf: int, x: torch.Tensor, node: Any) -> None:
        """Record leaf's input x when an activation function made it (through shape-only nodes) and no
        captured tensor did."""
        if x.dtype not in _FLOAT_DTYPES or x.layout is not torch.strided or x.numel() == 0:
            return
        nodes = self._nodes
        for _ in range(_WALK):
            name = type(node).__name__
            found = S.FUNCTION_NODES.get(name)
            if found is not None:
                break
            if name not in S.SHAPE_NODES or not node.next_functions:
                return
            node = node.next_functions[0][0]
            if node is None or node in nodes:
                return  # a captured tensor (or a view of one): already in the record
        else:
            return
        site = self._n_leaves + leaf
        self._seen[site] = True
        nodes.add(node)
        self._record(site, x, found[0], found[1])

    def _record(self, site: int, tensor: torch.Tensor, kind: str | None, fn: str | None) -> None:
        """Reduce one observed tensor (or repeat the previous one's numbers) and hook its gradient."""
        grad_mode = torch.is_grad_enabled()
        if grad_mode:
            torch._C._set_grad_enabled(False)  # (cheaper than detach(): the reductions write with out=)
        try:
            y = tensor if tensor.dtype is torch.float32 else tensor.float()  # statistics in float32
            if y.is_contiguous():
                flat, channels_last = y.view(-1), False
            elif memory_order(y):  # channels-last, read in place
                flat, channels_last = y.movedim(1, -1).reshape(-1), True
            else:  # another memory order: a C-order copy
                y = y.contiguous()
                flat, channels_last = y.view(-1), False
            layout = self._last_layout[site]  # this site's previous layout, usually the right one
            if (layout is None or layout.shape != y.shape or layout.kind is not kind
                    or layout.channels_last is not channels_last or layout.device != y.device):
                layout = self._layout(site, y, kind, channels_last)
            entry = [site, -1, layout, False, False, False, kind, fn]
            prev = self._prev
            if (kind is None and prev is not None and prev.data_ptr() == y.data_ptr() and prev.numel() == layout.n
                    and prev.dtype == y.dtype and prev._version == y._version):
                # Flatten / reshape: a view of the previous tensor repeats its numbers
                entries = self._entries
                before = entries[-1][DUP]
                entry[DUP] = before if before >= 0 else len(entries) - 1
            else:
                self._reducer.reduce(y, flat, entry, layout)
        finally:
            if grad_mode:
                torch._C._set_grad_enabled(True)
        self._prev = y  # kept until the next tensor: its memory cannot be reused meanwhile
        self._entries.append(entry)
        if tensor.requires_grad:
            node = tensor.grad_fn
            if node is not None:  # a pre-hook of the node that consumes this tensor's gradient
                self._nodes.add(node)
                node.register_prehook(partial(self._grad_hook, self._generation, entry, tensor.output_nr))
            else:
                tensor.register_hook(partial(self._grad_hook, self._generation, entry, None))

    def _grad_hook(self, generation: int, entry: list[Any], index: int | None, grad: Any) -> None:
        """The gradient of a captured tensor: `grad` itself (tensor hook), or output `index` of the
        node pre-hook's `grad` tuple. Never replaced."""
        if index is not None:
            grad = grad[index]
        if generation != self._generation or grad is None or entry[GRAD]:
            return  # a backward after finish/cancel, or a second backward through the graph: the first counts
        self._prev = None  # the forward pass is over
        entry[GRAD] = True
        # (detached only under a backward with create_graph=True, where it requires grad)
        self._reducer.reduce_grad(grad.detach() if grad.requires_grad else grad, entry)

    def after_backward(self) -> None:
        """Gradient and weight norms and a weight snapshot; call after backward, before `optimizer.step()`."""
        if not self.active:
            return
        if not any(map(is_, map(_GRAD, self._param_tensors), repeat(None))):  # (usual: every parameter has one)
            self._param_names, self._weights = self._all_param_names, self._param_tensors
        else:
            with_grad = [(n, p) for n, p in self.params if p.grad is not None]
            self._param_names = [n for n, _ in with_grad]
            self._weights = [p for _, p in with_grad]
        self._snapshot = self._reducer.after_backward(self._weights)

    # ------------------------------------------------------------------ finish
    def finish(self, keep_hooks: bool = False) -> dict[str, Any]:
        """Update norms (if `after_backward` ran), the numbers on the host, the record.

        The hooks are removed unless `keep_hooks` (the next step is captured too: `start()` then
        reuses them; while no capture is active they return at once)."""
        if not self.active:
            raise UserError("LayerStats.finish() called without start(): no step is being captured")
        self._end(keep_hooks)
        numbers, samples = self._reducer.finish(self._entries, self._weights, self._snapshot)
        layers, at = self._layers(numbers, samples)
        record = {"step": self._step, "phase": self._phase, "layers": layers,
                  "params": self._params(numbers[at:]) if self._snapshot is not None else []}
        self._reset()
        return record

    def _params(self, values: list[float]) -> list[dict[str, Any]]:
        """[‖g‖…, ‖w‖…, ‖Δw‖…] → one dict per parameter."""
        n = len(self._param_names)
        return [{"name": name, "grad_norm": values[i], "delta_norm": values[2 * n + i], "weight_norm": values[n + i],
                 "update_ratio": values[2 * n + i] / max(values[n + i], _TINY)}
                for i, name in enumerate(self._param_names)]

    def _layers(self, numbers: list[float], samples: np.ndarray) -> tuple[list[dict[str, Any]], int]:
        """Host side: the 7 numbers of every entry, the per-unit maxima and the histogram samples →
        the documented per-layer fields; also returns where the parameters' numbers start."""
        entries = self._entries
        at = 7 * len(entries)  # the per-unit maxima of the reduced ReLU-family entries follow the 7-number rows
        exact_act, exact_grad = self._reducer.exact_act, self._reducer.exact_grad
        names, types, n_leaves = self._site_names, self._site_types, self._n_leaves
        layers: list[dict[str, Any]] = []
        lo, hi, sizes, widths = [], [], [], set()
        for k, (site, dup, layout, exact, has_grad, grad_exact, kind, fn) in zip(range(0, at, 7), entries):
            n = layout.n
            if dup >= 0:  # a view of an earlier tensor: its activation numbers
                rec = {key: value for key, value in layers[dup].items() if key not in _OWN_FIELDS}
                rec.update(name=names[site], type=types[site], kind=kind, numel=n)
            else:
                total, q, low, high = numbers[k:k + 4]
                mean, std = _mean_std(total, q, n, exact, exact_act, site)
                extra: dict[str, float] = {}
                if layout.unit_max is not None:  # ReLU family: hi and the dead units from the per-unit maxima
                    units = numbers[at:at + layout.units]
                    at += layout.units
                    high = max(units) if total == total else math.nan  # (a NaN anywhere makes Σy NaN)
                    extra = {"dead_frac": sum(map(_ZERO.__ge__, units)) / layout.units}
                elif kind is not None:
                    extra = {"saturated_frac": numbers[k + 4] / n}
                rec = {"name": names[site], "type": types[site] or fn, "kind": kind, "numel": n, "mean": mean,
                       "std": std, "lo": low, "hi": high, **extra, "hist": len(sizes)}
                lo.append(low)
                hi.append(high)
                sizes.append(layout.count)
                widths.add(layout.width)
            if has_grad:
                rec["grad_mean"], rec["grad_std"] = _mean_std(numbers[k + 5], numbers[k + 6], n, grad_exact,
                                                              exact_grad, site)
            if site >= n_leaves:
                rec["input_of"] = names[site - n_leaves]
            layers.append(rec)
        width = widths.pop() if len(widths) == 1 else None  # one matrix of padded rows, or rows back to back
        counts = S.histograms_host(samples, sizes, lo, hi, self.bins, width).tolist()
        for rec in layers:
            rec["hist"] = counts[rec["hist"]]  # (its row of the histogram counts)
        return layers, at

    def cancel(self) -> None:
        """Drop the capture in progress (hooks removed, nothing transferred)."""
        self._end()
        self._reset()

    def close(self) -> None:
        """Remove every hook this recorder registered and release its buffers."""
        self.cancel()
        self._layouts.clear()
        self._last_layout = [None] * len(self._last_layout)
        self._reducer.close()

    def __enter__(self) -> LayerStats:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _mean_std(total: float, q: float, n: int, exact: bool, two_pass: set[int], site: int) -> tuple[float, float]:
    """Mean and std from Σy and Σ(y − mean)² (`exact`) or Σy² (one pass: M2 = Σy² − (Σy)²/n); `site`
    joins `two_pass` (two passes next time) where one pass would lose digits (|mean| > 3·std), or NaN."""
    mean = total / n
    m2 = q if exact else q - total * mean
    std = math.sqrt(m2 / n) if m2 > 0 else (0.0 if m2 == m2 else math.nan)
    (two_pass.discard if abs(mean) <= ONE_PASS_MAX_RATIO * std else two_pass.add)(site)
    return mean, std


class _ForwardHook:
    """The forward hook of one leaf. A deep copy or a pickle of the model (an EMA copy, `torch.save`
    of the module) gets an `_InertHook` in its place: a copy is not observed, and the recorder —
    which holds tensors — is neither copied nor pickled."""

    __slots__ = ("stats", "leaf")

    def __init__(self, stats: LayerStats, leaf: int):
        self.stats, self.leaf = stats, leaf

    def __call__(self, module: nn.Module, args: Any, output: Any) -> None:
        stats = self.stats
        if stats._step is not None:  # (kept between captured steps: idle in between)
            stats._forward_hook(self.leaf, module, args, output)

    def __reduce__(self) -> tuple[type, tuple[()]]:
        return _InertHook, ()


class _InertHook:
    """What a copied `_ForwardHook` becomes: a hook that does nothing."""

    def __call__(self, module: nn.Module, args: Any, output: Any) -> None:
        return None

