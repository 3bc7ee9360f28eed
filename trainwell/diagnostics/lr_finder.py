"""LR range test (Smith 2015, "Cyclical Learning Rates for Training Neural Networks"; the
exponential variant popularised by fastai): train a *copy* of the model for a few steps while the
learning rate grows exponentially, and read the loss curve.

    lr_i      = start_lr · (end_lr / start_lr)^(i / (num_steps − 1))                 i = 0 … num_steps−1
    avg_i     = β·avg_{i−1} + (1 − β)·loss_i,  avg_{−1} = 0                         (β = smoothing)
    smooth_i  = avg_i / (1 − β^(i+1))                                                (bias correction)
    stop when loss_i is NaN/inf, or (after the first `skip_start` steps) smooth_i > diverge_factor · min_j≤i smooth_j

Suggestion — the steepest descent of the smoothed loss against log10(lr):

    slope_i = d smooth / d log10(lr)   (numpy.gradient, second-order central differences)
    suggestion = lr at argmin slope_i over the window [skip_start, argmin smooth]

How it stays robust:
  * the first `skip_start` points (default num_steps // 10) are skipped — there the
    bias-corrected EMA rests on a handful of losses, and the divergence test is not applied
    either, so one early spike cannot stop the sweep;
  * before the slope is taken the raw losses go through a centered running median of 5 and
    then the same EMA: an isolated spike (one or two bad batches) is removed instead of
    smeared into a false "steep descent" as it decays (`smoothed` itself stays the plain EMA);
  * the window ends at the minimum of the smoothed loss: the steepest *descent* lies before it,
    and everything after (the climb, divergence, a NaN) is ignored;
  * a NaN/inf loss ends the sweep; its point is kept in `losses` (as recorded) but never
    enters the suggestion; with fewer than 3 usable points the suggestion is None.

The caller's model, optimizer and RNG state are untouched: the sweep trains `copy.deepcopy(model)`
with a fresh optimizer from `optimizer_factory`, and the global torch RNG (and CUDA's) is saved
and restored around it; inside, it is seeded from `generator` (or 0), so the sweep is repeatable.

Example:
    >>> result = lr_find(model, F.cross_entropy, [(x, y)], lambda p: torch.optim.SGD(p, lr=1.0))
    >>> result.suggestion          # e.g. 0.05
"""
from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from trainwell.errors import UserError


@dataclass
class LRFinderResult:
    """The sweep: `lrs[i]`, raw `losses[i]`, EMA-`smoothed[i]`; `suggestion` (or None);
    `stopped_early` and why (`stop_reason`)."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestion: float | None
    stopped_early: bool
    stop_reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "lrs": self.lrs,
            "losses": [x if math.isfinite(x) else None for x in self.losses],
            "smoothed": [x if math.isfinite(x) else None for x in self.smoothed],
            "suggestion": self.suggestion,
            "stopped_early": self.stopped_early,
            "stop_reason": self.stop_reason,
        }


def lr_at(i: int, start_lr: float, end_lr: float, num_steps: int) -> float:
    """lr_i = start_lr · (end_lr / start_lr)^(i / (num_steps − 1))."""
    return start_lr * (end_lr / start_lr) ** (i / max(num_steps - 1, 1))


def ema_bias_corrected(values: list[float], beta: float) -> list[float]:
    """smooth_i = avg_i / (1 − β^(i+1)), avg_i = β·avg_{i−1} + (1 − β)·v_i."""
    avg, out = 0.0, []
    for i, v in enumerate(values):
        avg = beta * avg + (1 - beta) * v
        out.append(avg / (1 - beta ** (i + 1)))
    return out


def running_median(values: list[float], window: int = 5) -> list[float]:
    """Centered running median over `window` values (truncated at the ends): no lag."""
    half = window // 2
    return [float(np.median(values[max(0, i - half) : i + half + 1])) for i in range(len(values))]


def steepest_descent(lrs: list[float], losses: list[float], smoothing: float, skip_start: int) -> float | None:
    """The lr of the steepest descent of the (median-filtered, EMA-smoothed) loss against
    log10(lr), between `skip_start` and the curve's minimum; None with < 3 usable points."""
    finite = 0
    while finite < len(losses) and math.isfinite(losses[finite]):
        finite += 1
    curve = ema_bias_corrected(running_median(losses[:finite]), smoothing)
    if len(curve) - skip_start < 3:
        return None
    lowest = skip_start + int(np.argmin(curve[skip_start:]))
    window = slice(skip_start, lowest + 1)
    y = np.asarray(curve[window])
    x = np.log10(np.asarray(lrs[window]))
    if len(y) < 3:
        return None
    slope = np.gradient(y, x)
    return float(10 ** x[int(np.argmin(slope))])


def _batch_source(batches: Any) -> Callable[[], tuple[torch.Tensor, torch.Tensor] | None]:
    """Next-batch function: a callable returning (x, y), a callable returning an iterable,
    or an iterable (re-iterated when exhausted if it can be, e.g. a list)."""
    if callable(batches):
        first = batches()
        if isinstance(first, (tuple, list)) and len(first) == 2 and isinstance(first[0], torch.Tensor):
            pending: list[Any] = [first]

            def call() -> tuple[torch.Tensor, torch.Tensor]:
                return pending.pop() if pending else batches()

            return call
        batches = first
    if not isinstance(batches, Iterable):
        raise UserError(f"lr_find: batches must be an iterable of (x, y) or a callable, found {type(batches).__name__}")
    state: dict[str, Iterator[Any]] = {"it": iter(batches)}
    reiterable = not isinstance(batches, Iterator)

    def take() -> tuple[torch.Tensor, torch.Tensor] | None:
        try:
            return next(state["it"])
        except StopIteration:
            if not reiterable:
                return None
            state["it"] = iter(batches)
            return next(state["it"], None)

    return take


def lr_find(
    model: nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    batches: Any,
    optimizer_factory: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer],
    start_lr: float = 1e-7,
    end_lr: float = 10,
    num_steps: int = 100,
    smoothing: float = 0.98,
    diverge_factor: float = 4.0,
    generator: torch.Generator | None = None,
    *,
    skip_start: int | None = None,
) -> LRFinderResult:
    """Exponential LR sweep on a copy of `model` (see the module docstring).

    Args:
        model: left exactly as it is (parameters, buffers, train/eval mode).
        loss_fn: loss_fn(model(x), y) → scalar tensor.
        batches: an iterable of (x, y) (a list is cycled), or a callable returning either one
            (x, y) per call or an iterable. Batches are moved to the model's device.
        optimizer_factory: params → optimizer; its lr is overwritten at every step.
        start_lr, end_lr, num_steps: the sweep lr_i = start_lr·(end_lr/start_lr)^(i/(num_steps−1)).
        smoothing: EMA factor β of the smoothed loss.
        diverge_factor: stop once the smoothed loss exceeds this multiple of its minimum.
        generator: seeds the global RNG inside the sweep (dropout, …); None → seed 0.
        skip_start: points ignored by the divergence test and the suggestion (default num_steps // 10, ≥ 1).
    """
    if not (0 < start_lr < end_lr):
        raise UserError(f"lr_find: need 0 < start_lr < end_lr, found start_lr={start_lr}, end_lr={end_lr}")
    if num_steps < 2:
        raise UserError(f"lr_find: num_steps must be ≥ 2, found {num_steps}")
    if not 0 <= smoothing < 1:
        raise UserError(f"lr_find: smoothing must be in [0, 1), found {smoothing}")
    if diverge_factor <= 1:
        raise UserError(f"lr_find: diverge_factor must be > 1, found {diverge_factor}")
    skip = max(1, num_steps // 10) if skip_start is None else int(skip_start)
    seed = 0 if generator is None else int(torch.randint(0, 2**62, (1,), generator=generator))
    next_batch = _batch_source(batches)
    params = list(model.parameters())
    device = params[0].device if params else torch.device("cpu")
    devices = [device.index or 0] if device.type == "cuda" else []

    lrs: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    stop_reason = ""
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        net = copy.deepcopy(model)
        net.train()
        optimizer = optimizer_factory(net.parameters())
        avg, best = 0.0, math.inf
        for i in range(num_steps):
            batch = next_batch()
            if batch is None:
                stop_reason = f"batches ran out after {i} steps"
                break
            x, y = (t.to(device) if isinstance(t, torch.Tensor) else t for t in batch)
            lr = lr_at(i, start_lr, end_lr, num_steps)
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(net(x), y)
            value = float(loss.detach())  # the stop rule needs it now: one sync per step
            lrs.append(lr)
            losses.append(value)
            if not math.isfinite(value):
                smoothed.append(float("nan"))
                stop_reason = f"the loss became {value} at lr={lr:.3g}"
                break
            avg = smoothing * avg + (1 - smoothing) * value
            smooth = avg / (1 - smoothing ** (i + 1))
            smoothed.append(smooth)
            if i >= skip and smooth > diverge_factor * best:
                stop_reason = f"the smoothed loss {smooth:.4g} exceeded {diverge_factor}× its minimum {best:.4g} at lr={lr:.3g}"
                break
            if i >= skip:
                best = min(best, smooth)
            loss.backward()
            optimizer.step()
    stopped = bool(stop_reason) and not stop_reason.startswith("batches ran out")
    # the diverged point (last one when stopped) never enters the suggestion
    usable = len(losses) - 1 if stopped else len(losses)
    suggestion = steepest_descent(lrs[:usable], losses[:usable], smoothing, skip)
    return LRFinderResult(lrs, losses, smoothed, suggestion, stopped, stop_reason)
