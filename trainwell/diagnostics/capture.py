"""`LayerStats`: per-layer activation/gradient statistics and update ratios on sampled steps.

How it measures, and what it costs:

* Hooks exist only while a sampled step is being captured: `start()` registers a forward hook on
  every *leaf* module (parameter-less ones — activations, pooling, flatten — included) and
  `finish()`/`cancel()`/`close()` remove them (`finish(keep_hooks=True)` keeps them for a next
  step that is captured too; they do nothing while no capture is active). Unsampled steps run
  the bare model. A layer whose output is a view of the previous one's (Flatten, reshape) costs
  no reduction: it repeats those numbers. Hooks never replace an output or a gradient.
* Torch ops compute the numbers (`capture_torch.TorchPath`; the per-output layout is
  `capture_layout.OutputLayout`): a few ops per output whose small results stay on the device
  (Σy, M2, `torch.aminmax` or per-unit maxima, a saturated count, a `torch.take` sample), the
  activation gradients held to the end of backward and reduced with the parameter norms in one
  `_foreach_norm` call, then every number stacked into ONE flat tensor and brought back with ONE
  transfer (`capture_torch.to_host`) per sampled step. M2 is one-pass (Σy² − (Σy)²/n in float64
  on the host) while a layer's previous capture had |mean| ≤ ONE_PASS_MAX_RATIO·std, else
  two-pass (y − mean first, exact in float32).
* The histogram sample: every s-th element of the output, s coprime with the example size (so
  it walks through every unit and position), at most `hist_samples` of them, binned on the host
  over the layer's exact [min, max].
* Between sampled steps the recorder keeps, per leaf and output shape, the sample layout, and a
  copy of the weights (for Δw); `close()` releases them.

What it costs: see README (`taskset -c 1 python bench/bench_stats_overhead.py`).

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

import numpy as np
import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from trainwell.diagnostics import stats as S
from trainwell.diagnostics.capture_layout import DUP, GRAD_AT, LAYOUT, LEAF, ROW, OutputLayout, new_entry
from trainwell.diagnostics.capture_torch import TorchPath
from trainwell.errors import UserError

_TINY = torch.finfo(torch.float32).tiny

__all__ = ["LayerStats", "leaf_modules"]


def leaf_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) for every module without children; the model itself if it has none."""
    leaves = [(n, m) for n, m in model.named_modules() if next(m.children(), None) is None]
    return [(n or type(m).__name__, m) for n, m in leaves]


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
        self.every = int(every)
        self.bins = int(bins)
        self.include_eval = include_eval
        self.hist_samples = hist_samples
        self.leaves = leaf_modules(model)
        self.kinds = {id(m): S.activation_kind(m) for _, m in self.leaves}
        self._leaf_kinds = [self.kinds[id(m)] for _, m in self.leaves]
        self._hooks = [_ForwardHook(self, i) for i in range(len(self.leaves))]
        self.params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self._layouts: dict[tuple[Any, ...], OutputLayout] = {}
        self._last_layout: list[OutputLayout | None] = [None] * len(self.leaves)
        self._torch = TorchPath(len(self.leaves))
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
        self._entries: list[list[Any]] = []  # one per captured output (fields: capture_layout.LEAF …)
        self._reduced = 0  # outputs reduced so far (a row each)
        self._n_grads = 0  # activation gradients seen
        self._seen = [False] * len(self.leaves)
        self._prev: torch.Tensor | None = None  # the last captured output (see _forward_hook)
        self._with_grad: list[torch.Tensor] = []
        self._param_names: list[str] = []
        self._snapshot: list[torch.Tensor] | None = None
        self._torch.reset()
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
        if not self._handles:
            self._handles = [m.register_forward_hook(h) for (_, m), h in zip(self.leaves, self._hooks)]

    def _layout(self, leaf: int, shape: torch.Size, device: torch.device) -> OutputLayout:
        key = (leaf, shape, device)
        layout = self._layouts.get(key)
        if layout is None:
            if len(self._layouts) > 4 * len(self.leaves) + 16:  # shapes that keep changing
                self._layouts.clear()
            layout = self._layouts[key] = OutputLayout(shape, self._leaf_kinds[leaf], self.hist_samples, device)
        self._last_layout[leaf] = layout
        return layout

    def _forward_hook(self, leaf: int, module: nn.Module, args: Any, output: Any) -> None:
        if self._step is None or self._seen[leaf] or not isinstance(output, torch.Tensor) or not output.is_floating_point():
            return
        if output.numel() == 0 or output.layout != torch.strided or (not self.model.training and not self.include_eval):
            return
        self._seen[leaf] = True
        y = output.detach()
        shape, device = y.shape, y.device
        last = self._last_layout[leaf]  # the layout of this leaf's previous output, usually the same
        layout = last if last is not None and last.shape == shape and last.device == device \
            else self._layout(leaf, shape, device)
        kind = self._leaf_kinds[leaf]
        entry = new_entry(leaf, layout)
        prev = self._prev
        if (kind is None and prev is not None and prev.data_ptr() == y.data_ptr() and prev.numel() == layout.n
                and prev.dtype == y.dtype and prev._version == y._version):
            # Flatten / reshape: a view of the previous output repeats its numbers
            before = self._entries[-1]
            entry[DUP] = before[DUP] if before[DUP] >= 0 else len(self._entries) - 1
        else:
            entry[ROW] = self._reduced
            self._reduced += 1
            self._torch.reduce(y, entry, kind, layout)
        self._prev = y  # kept until the next output: its memory cannot be reused meanwhile
        self._entries.append(entry)
        if output.requires_grad:
            node = output.grad_fn
            if node is not None:  # a pre-hook of the node that consumes this output's gradient
                node.register_prehook(partial(self._grad_prehook, self._generation, entry, output.output_nr))
            else:
                output.register_hook(partial(self._grad_hook, self._generation, entry))

    def _grad_prehook(self, generation: int, entry: list[Any], index: int,
                      grad_outputs: tuple[torch.Tensor | None, ...]) -> None:
        """Node pre-hook: the gradient of output `index` of the node (never replaced)."""
        self._grad_hook(generation, entry, grad_outputs[index])

    def _grad_hook(self, generation: int, entry: list[Any], grad: torch.Tensor | None) -> None:
        if generation != self._generation or grad is None or entry[GRAD_AT] >= 0:
            return  # a backward after finish/cancel, or a second backward through the graph: the first counts
        self._prev = None  # the forward pass is over
        entry[GRAD_AT] = k = self._n_grads
        self._n_grads += 1
        self._torch.grads.append(grad)  # reduced with the others after backward

    @torch.no_grad()
    def after_backward(self) -> None:
        """Gradient and weight norms and a weight snapshot; call after backward, before `optimizer.step()`.

        One `_foreach_norm` call takes the activation-gradient norms and ‖g‖, ‖w‖ of every parameter."""
        if not self.active:
            return
        with_grad = [(n, p) for n, p in self.params if p.grad is not None]
        self._param_names = [n for n, _ in with_grad]
        self._with_grad = weights = [p for _, p in with_grad]
        self._snapshot = self._torch.after_backward(self._entries, weights)

    # ------------------------------------------------------------------ finish
    @torch.no_grad()
    def finish(self, keep_hooks: bool = False) -> dict[str, Any]:
        """Update norms (if `after_backward` ran), the numbers on the host, the record.

        The hooks are removed unless `keep_hooks` (the next step is captured too: `start()` then
        reuses them; while no capture is active they return at once)."""
        if not self.active:
            raise UserError("LayerStats.finish() called without start(): no step is being captured")
        if not keep_hooks:
            self._remove_hooks()
        act, counts, grad, params = self._torch.finish(self._entries, self._leaf_kinds, self._with_grad,
                                                       self._snapshot, self.bins)
        record = {"step": self._step, "phase": self._phase, "layers": self._layers(act, counts, grad),
                  "params": self._params(params)}
        self._reset()
        return record

    def _params(self, params: np.ndarray) -> list[dict[str, Any]]:
        out = []
        for name, (grad_norm, weight_norm, delta) in zip(self._param_names, params.tolist()):
            out.append({"name": name, "grad_norm": grad_norm, "delta_norm": delta, "weight_norm": weight_norm,
                        "update_ratio": delta / max(weight_norm, _TINY)})
        return out

    def _layers(self, act: np.ndarray, hist: np.ndarray, grad: np.ndarray) -> list[dict[str, Any]]:
        """Host side: per reduced output [Σy, M2, min, max, count] and histogram counts, per gradient
        [Σg, M2] → the documented per-layer fields."""
        entries = self._entries
        kinds = self._leaf_kinds
        counts = hist.tolist()
        rows = act.tolist()
        grads = grad.tolist()
        choose_pass = self._torch.choose_pass
        layers = []
        for e in entries:
            leaf, layout = e[LEAF], e[LAYOUT]
            name, module = self.leaves[leaf]
            kind = kinds[leaf]
            n = layout.n
            row = entries[e[DUP]][ROW] if e[DUP] >= 0 else e[ROW]
            total, m2, low, high, count = rows[row]
            mean, std = total / n, _std(m2, n)
            rec: dict[str, Any] = {"name": name, "type": type(module).__name__, "kind": kind, "numel": n,
                                   "mean": mean, "std": std, "lo": low, "hi": high}
            if e[DUP] < 0:
                if kind == "relu":
                    rec["dead_frac"] = count / layout.units[1]
                elif kind is not None:
                    rec["saturated_frac"] = count / n
                choose_pass(leaf, mean, std, gradient=False)
            rec["hist"] = counts[row]
            g = e[GRAD_AT]
            if g >= 0:
                total, m2 = grads[g]
                rec["grad_mean"] = gm = total / n
                rec["grad_std"] = gs = _std(m2, n)
                choose_pass(leaf, gm, gs, gradient=True)
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
        self._last_layout = [None] * len(self.leaves)
        self._torch.close()

    def __enter__(self) -> LayerStats:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _ForwardHook:
    """The forward hook of one leaf. A deep copy or a pickle of the model (an EMA copy, `torch.save`
    of the module) gets an `_InertHook` in its place: a copy is not observed, and the recorder —
    which holds tensors — is neither copied nor pickled."""

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


def _std(m2: float, n: int) -> float:
    """Population std from M2 = Σ(y − mean)²; NaN stays NaN."""
    return math.sqrt(max(m2, 0.0) / max(n, 1)) if m2 == m2 else float("nan")
