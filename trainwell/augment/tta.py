"""Test-time augmentation: average the predicted class probabilities over deterministic views.

    p(y | x) ≈ (1/V) Σ_v softmax(f(view_v(x)))

"Training adds randomness, testing averages it out": AlexNet (Krizhevsky et al. 2012) averaged
the softmax over 10 crops and their mirror images at test time. Probabilities, not logits, are
averaged. A view is a deterministic callable x -> x' (same shape); helpers build the usual sets:

    flip_views((-1,))         [identity, mirror the last axis]
    flip_views((-1, -2))      [identity, hflip, vflip, both]       (every subset of the dims)
    shift_views((-2, 0, 2))   [shift by -2, 0, +2 along the last axis] (circular or zero-filled)

`build_tta(spec)` makes a `TTA` from a recipe spec ("none", "flip", {"name": "shift", ...},
or a list of them, whose views are concatenated). The model's train/eval mode is left as it is
(call `model.eval()` first); no gradients are recorded.

Example:
    >>> tta = build_tta({"name": "flip", "dims": [-1]})
    >>> probs = tta(model.eval(), x_test)          # (N, num_classes), rows sum to 1
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from trainwell.augment.shift import SHIFT_MODES
from trainwell.augment._checks import check_choice
from trainwell.errors import UserError
from trainwell.registry import Registry

View = Callable[[Tensor], Tensor]


class Identity:
    """The view x -> x."""

    def __call__(self, x: Tensor) -> Tensor:
        return x

    def __repr__(self) -> str:
        return "Identity()"


class Flip:
    """Mirror the given axes (negative axes count from the end, e.g. -1 = width/time)."""

    def __init__(self, dims: Sequence[int]) -> None:
        self.dims = tuple(int(d) for d in dims)

    def __call__(self, x: Tensor) -> Tensor:
        for d in self.dims:
            if not -x.dim() < d < x.dim() or d in (0, -x.dim()):
                raise UserError(f"tta flip: axis {d} is not a data axis of a tensor of shape {tuple(x.shape)}")
        return x.flip(self.dims)

    def __repr__(self) -> str:
        return f"Flip(dims={self.dims})"


class Shift:
    """Shift along `dim` by `amount` positions (right/down for > 0), circular or zero-filled."""

    def __init__(self, amount: int, dim: int = -1, mode: str = "circular") -> None:
        self.amount, self.dim = int(amount), int(dim)
        self.mode = check_choice("tta shift: mode", mode, SHIFT_MODES)

    def __call__(self, x: Tensor) -> Tensor:
        out = torch.roll(x, self.amount, dims=self.dim)
        if self.mode == "zeros" and self.amount != 0:
            k = min(abs(self.amount), x.shape[self.dim])
            edge = out.narrow(self.dim, 0, k) if self.amount > 0 else out.narrow(self.dim, x.shape[self.dim] - k, k)
            edge.zero_()
        return out

    def __repr__(self) -> str:
        return f"Shift(amount={self.amount}, dim={self.dim}, mode={self.mode!r})"


def flip_views(dims: Sequence[int] = (-1,)) -> list[View]:
    """Identity plus a flip for every non-empty subset of `dims` (2^len(dims) views)."""
    dims = tuple(dims)
    views: list[View] = [Identity()]
    for k in range(1, len(dims) + 1):
        views.extend(Flip(c) for c in itertools.combinations(dims, k))
    return views


def shift_views(shifts: Sequence[int] = (-2, 0, 2), dim: int = -1, mode: str = "circular") -> list[View]:
    """One view per shift amount (include 0 to keep the original)."""
    if not len(shifts):
        raise UserError("tta shift: shifts must list at least one amount, got []")
    return [Identity() if s == 0 else Shift(s, dim, mode) for s in shifts]


@torch.no_grad()
def tta_predict(model: Callable[[Tensor], Tensor], x: Tensor, views: Sequence[View], batch_size: int | None = None) -> Tensor:
    """Mean over views of softmax(model(view(x)), dim=1); (N, C) for (N, C) logits.

    `batch_size` bounds memory by predicting that many examples at a time.
    """
    views = list(views)
    if not views:
        raise UserError("tta_predict needs at least one view, got none")
    if batch_size is not None and batch_size < x.shape[0]:
        return torch.cat([tta_predict(model, part, views) for part in x.split(batch_size)])
    total = None
    for view in views:
        logits = model(view(x))
        if logits.dtype not in (torch.float32, torch.float64):
            logits = logits.float()                        # half precision: average in float32
        probs = torch.softmax(logits, dim=1)
        total = probs if total is None else total + probs
    return total / len(views)


class TTA:
    """A set of views; `tta(model, x)` returns the view-averaged class probabilities."""

    def __init__(self, views: Sequence[View]) -> None:
        self.views = list(views)
        if not self.views:
            raise UserError("TTA needs at least one view, got none")

    def __call__(self, model: Callable[[Tensor], Tensor], x: Tensor, batch_size: int | None = None) -> Tensor:
        return tta_predict(model, x, self.views, batch_size)

    def __len__(self) -> int:
        return len(self.views)

    def __repr__(self) -> str:
        return f"TTA({self.views!r})"


TTA_VIEWS = Registry("tta")
TTA_VIEWS.add("none", lambda: [Identity()], "no test-time augmentation: the plain prediction")
TTA_VIEWS.add("flip", flip_views, "identity + flips of every subset of dims (dims, default [-1])")
TTA_VIEWS.add("shift", shift_views, "one view per shift along dim (shifts, dim, mode)")


def build_tta(spec: str | Mapping[str, Any] | Sequence[str | Mapping[str, Any]] | None) -> TTA:
    """A TTA from a spec: None/"none", a name, a table with options, or a list (views concatenated)."""
    if spec is None:
        spec = "none"
    specs = [spec] if isinstance(spec, (str, Mapping)) else list(spec)
    views: list[View] = []
    for s in specs:
        views.extend(TTA_VIEWS.build(s))
    return TTA(views)
