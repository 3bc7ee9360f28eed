"""`LayerStats`: per-layer activation/gradient statistics and update ratios on sampled steps.

How it measures, and what it costs:

* Hooks exist only while a sampled step is being captured: `start()` registers a forward hook on
  every *leaf* module (parameter-less ones — activations, pooling, flatten — included) and
  `finish()`/`cancel()`/`close()` remove them. Unsampled steps run the bare model.
* A forward hook reduces the layer's output on the device (`stats.activation_summary`: mean, std,
  range, histogram, dead or saturated fraction) and registers a tensor hook on the output that
  reduces the activation gradient (mean, std) during backward. Both only append small tensors to
  a list; nothing is read back.
* `after_backward()` (grads populated, before `optimizer.step()`) takes per-parameter gradient
  norms and a snapshot of the weights; `finish()` (after the step) computes ‖Δw‖/‖w‖, concatenates
  every statistic into ONE flat float32 tensor and transfers it with ONE call to `to_host` — the
  single device→host transfer per sampled step — then unpacks it into a plain record.

Record (JSON-serialisable; `layers` in forward order, `params` in `named_parameters` order):

    {"step": 20, "phase": "train",
     "layers": [{"name": "0", "type": "Linear", "kind": null, "numel": 1600,
                 "mean": .., "std": .., "lo": .., "hi": .., "hist": [40 counts],
                 "grad_mean": .., "grad_std": ..},
                {"name": "1", "type": "ReLU", "kind": "relu", ..., "dead_frac": 0.03, ...}],
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

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from trainwell.diagnostics import stats as S
from trainwell.errors import UserError


def to_host(flat: torch.Tensor) -> list[float]:
    """The one device→host transfer of a sampled step (tests spy on this function)."""
    return flat.tolist()


_EMPTY: dict[torch.device, torch.Tensor] = {}


def _empty(device: torch.device) -> torch.Tensor:
    """A cached empty tensor, for layout entries that carry no device data."""
    return _EMPTY.setdefault(device, torch.zeros(0, device=device))


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
        self.params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self._forced = False
        self._handles: list[RemovableHandle] = []
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
        self._parts: list[torch.Tensor] = []
        self._layout: list[tuple[int, Callable[[list[float]], None]]] = []
        self._layers: list[dict[str, Any]] = []
        self._seen: set[int] = set()
        self._same_data: dict[tuple[Any, ...], tuple[torch.Tensor, dict[str, Any]]] = {}
        self._snapshot: list[torch.Tensor] | None = None
        self._with_grad: list[torch.Tensor] = []
        self._param_records: list[dict[str, Any]] = []
        self._generation = getattr(self, "_generation", 0) + 1  # stale grad hooks check this

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
        for name, module in self.leaves:
            self._handles.append(module.register_forward_hook(self._make_hook(name, module)))

    def _push(self, values: torch.Tensor, size: int, fill: Callable[[list[float]], None]) -> None:
        """Queue a device tensor of `size` numbers; `fill` gets them back on the host."""
        self._parts.append(values)
        self._layout.append((size, fill))

    def _make_hook(self, name: str, module: nn.Module):
        kind = self.kinds[id(module)]
        bins = self.bins

        def hook(mod: nn.Module, args: Any, output: Any) -> None:
            if not isinstance(output, torch.Tensor) or not output.is_floating_point() or output.numel() == 0:
                return
            if id(mod) in self._seen or (not self.model.training and not self.include_eval):
                return
            self._seen.add(id(mod))
            shape = tuple(output.shape)
            record: dict[str, Any] = {"name": name, "type": type(mod).__name__, "kind": kind,
                                      "numel": output.numel()}
            self._layers.append(record)
            key = (output.data_ptr(), output.numel(), output.dtype, output._version)
            found = self._same_data.get(key)
            if found is not None and kind is None:
                same = found[1]

                # a view of an output already summarised (Flatten, reshape): same numbers
                def copy_same(v: list[float]) -> None:
                    record.update({k: same[k] for k in ("mean", "std", "lo", "hi", "hist")})

                self._push(_empty(output.device), 0, copy_same)
            else:
                # keep the tensor alive until finish(): its memory cannot be reused meanwhile
                self._same_data[key] = (output, record)
                head, counts = S.activation_moments(output, kind, bins, self.hist_samples)

                def fill_head(v: list[float]) -> None:
                    record.update(S.finish_activation(v, shape, kind))

                def fill_hist(v: list[float]) -> None:
                    record["hist"] = [int(c) for c in v]

                self._push(head, head.numel(), fill_head)
                self._push(counts, bins, fill_hist)
            if output.requires_grad:
                generation = self._generation
                n = output.numel()

                def fill_grad(v: list[float]) -> None:
                    record["grad_mean"] = v[0]
                    record["grad_std"] = math.sqrt(max(v[1], 0.0) / n) if v[1] == v[1] else float("nan")

                def grad_hook(grad: torch.Tensor) -> None:
                    if self._generation == generation:  # ignore a backward after finish/cancel
                        self._push(S.gradient_moments(grad), 2, fill_grad)

                output.register_hook(grad_hook)

        return hook

    @torch.no_grad()
    def after_backward(self) -> None:
        """Gradient norms and a weight snapshot; call after backward, before `optimizer.step()`."""
        if not self.active:
            return
        with_grad = [(n, p) for n, p in self.params if p.grad is not None]
        self._param_records = [{"name": n} for n, _ in with_grad]
        self._with_grad = [p for _, p in with_grad]
        if with_grad:
            records = self._param_records

            def fill_norms(v: list[float]) -> None:
                for rec, value in zip(records, v):
                    rec["grad_norm"] = value

            self._push(S.norms([p.grad for p in self._with_grad]), len(records), fill_norms)
        self._snapshot = [p.detach().clone() for p in self._with_grad]

    def _unpack(self, values: list[float]) -> None:
        pos = 0
        for size, fill in self._layout:
            fill(values[pos : pos + size])
            pos += size

    @torch.no_grad()
    def finish(self) -> dict[str, Any]:
        """Update ratios (if `after_backward` ran), the single transfer, the record; hooks removed."""
        if not self.active:
            raise UserError("LayerStats.finish() called without start(): no step is being captured")
        self._remove_hooks()
        if self._snapshot:
            records = self._param_records

            def fill_ratios(v: list[float]) -> None:
                for i, rec in enumerate(records):
                    rec["delta_norm"], rec["weight_norm"], rec["update_ratio"] = v[3 * i : 3 * i + 3]

            self._push(S.update_ratios(self._snapshot, self._with_grad), 3 * len(records), fill_ratios)
        # 1-D parts; int counts promote to float32
        flat = torch.cat(self._parts) if self._parts else torch.zeros(0)
        self._unpack(to_host(flat))
        record = {"step": self._step, "phase": self._phase, "layers": self._layers, "params": self._param_records}
        self._reset()
        return record

    def cancel(self) -> None:
        """Drop the capture in progress (hooks removed, nothing transferred)."""
        self._remove_hooks()
        self._reset()

    def close(self) -> None:
        """Remove every hook this recorder registered."""
        self.cancel()

    def __enter__(self) -> LayerStats:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
