"""Gradient checking: autograd gradients against centered finite differences, in float64.

The lectures' recipe (CS231n, "Gradient checks"): for every coordinate θ_i

    numeric_i  = (f(θ + h·e_i) − f(θ − h·e_i)) / (2h)          (centered: error O(h²), not O(h))
    rel_err_i  = |analytic_i − numeric_i| / max(|analytic_i|, |numeric_i|, tiny)

and read the largest relative error of each tensor:

    < 1e-7          good
    1e-7 … 1e-2     suspicious — acceptable only where the function has kinks (ReLU, max, abs)
    > 1e-2          wrong

Everything runs in float64 on a *copy*: a module is deep-copied and converted with `.double()`,
floating inputs are cloned as float64. The caller's module and tensors are never touched.

A non-scalar output y is reduced to the scalar f = Σ r ⊙ y with a fixed random r ~ N(0, 1)
(seeded), which checks the vector–Jacobian product autograd computes for a random cotangent.

`tiny` (default 1e-10) floors the denominator: in float64 with h = 1e-6 the finite difference
carries a rounding noise of about 1e-16·|f|/h ≈ 1e-10·|f|, so gradients below that are compared
on an absolute scale instead of a meaningless relative one. Coordinates whose gradient is exactly
zero on both sides (dead ReLU, unused parameter) get error 0.

Example:
    >>> layer = torch.nn.Linear(4, 3)
    >>> result = gradcheck(layer, torch.randn(5, 4))
    >>> result.ok, result.verdict
    (True, 'good')
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from trainwell.errors import UserError

GOOD = 1e-7
WRONG = 1e-2
VERDICTS = ("good", "suspicious", "wrong")


def verdict_for(error: float) -> str:
    """The lectures' reading of a relative error: good < 1e-7 ≤ suspicious ≤ 1e-2 < wrong."""
    if not error == error:  # NaN
        return "wrong"
    if error < GOOD:
        return "good"
    if error <= WRONG:
        return "suspicious"
    return "wrong"


def relative_error(analytic: torch.Tensor, numeric: torch.Tensor, tiny: float = 1e-10) -> torch.Tensor:
    """|a − n| / max(|a|, |n|, tiny), elementwise (0 where both are exactly 0)."""
    diff = (analytic - numeric).abs()
    scale = torch.maximum(analytic.abs(), numeric.abs()).clamp_min(tiny)
    return diff / scale


@dataclass
class TensorCheck:
    """One checked tensor: `name` ("input 0", "param weight"), its shape, the largest relative
    error over the checked coordinates, and the coordinate (flat index) where it occurred."""

    name: str
    shape: tuple[int, ...]
    max_rel_error: float
    worst_index: int
    checked: int

    @property
    def verdict(self) -> str:
        return verdict_for(self.max_rel_error)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "shape": list(self.shape),
            "max_rel_error": self.max_rel_error,
            "worst_index": self.worst_index,
            "checked": self.checked,
            "verdict": self.verdict,
        }


@dataclass
class GradcheckResult:
    """Per-tensor results (inputs first, then parameters). `verdict` is the worst one;
    `ok` is True unless some tensor is "wrong" (> 1e-2); `good` requires every tensor < 1e-7."""

    checks: list[TensorCheck] = field(default_factory=list)
    eps: float = 1e-6

    @property
    def max_rel_error(self) -> float:
        return max((c.max_rel_error for c in self.checks), default=0.0)

    @property
    def verdict(self) -> str:
        return max((c.verdict for c in self.checks), key=VERDICTS.index, default="good")

    @property
    def ok(self) -> bool:
        return self.verdict != "wrong"

    @property
    def good(self) -> bool:
        return self.verdict == "good"

    def __getitem__(self, name: str) -> TensorCheck:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"no checked tensor named {name!r}; checked: {[c.name for c in self.checks]}")

    def to_json(self) -> dict[str, Any]:
        return {
            "eps": self.eps,
            "verdict": self.verdict,
            "max_rel_error": self.max_rel_error,
            "tensors": [c.to_json() for c in self.checks],
        }


def _as_tuple(inputs: Any) -> tuple[Any, ...]:
    if isinstance(inputs, torch.Tensor):
        return (inputs,)
    if isinstance(inputs, (tuple, list)):
        return tuple(inputs)
    raise UserError(f"gradcheck: inputs must be a tensor or a tuple of tensors, found {type(inputs).__name__}")


def gradcheck(
    fn_or_module: Callable[..., torch.Tensor] | nn.Module,
    inputs: torch.Tensor | Sequence[Any],
    eps: float = 1e-6,
    *,
    tiny: float = 1e-10,
    check_inputs: bool = True,
    max_per_tensor: int | None = None,
    seed: int = 0,
) -> GradcheckResult:
    """Compare autograd with centered finite differences for every floating input and parameter.

    Args:
        fn_or_module: a module (its parameters are checked too) or a function of the inputs.
            It must be deterministic (put dropout modules in eval mode).
        inputs: one tensor or a tuple; floating tensors are checked, others passed through.
        eps: finite-difference step h.
        tiny: floor of the relative error's denominator (see module docstring).
        check_inputs: also check the gradients with respect to floating inputs.
        max_per_tensor: check at most this many coordinates per tensor, drawn at random with
            `seed` (CS231n's "sparse" gradient check); None checks all of them.
        seed: seeds the random cotangent r and the coordinate sample.

    Returns:
        GradcheckResult with one TensorCheck per input ("input i") and parameter ("param name").
    """
    if eps <= 0:
        raise UserError(f"gradcheck: eps must be > 0, found {eps}")
    gen = torch.Generator().manual_seed(seed)
    if isinstance(fn_or_module, nn.Module):
        module = copy.deepcopy(fn_or_module).double()
        fn: Callable[..., torch.Tensor] = module
        params = [(f"param {n}", p) for n, p in module.named_parameters() if p.requires_grad]
    elif callable(fn_or_module):
        fn = fn_or_module
        params = []
    else:
        raise UserError(f"gradcheck: expected an nn.Module or a function, found {type(fn_or_module).__name__}")

    args = []
    checked_inputs = []
    for i, x in enumerate(_as_tuple(inputs)):
        if isinstance(x, torch.Tensor) and x.is_floating_point():
            x = x.detach().to(torch.float64).clone().requires_grad_(check_inputs)
            if check_inputs:
                checked_inputs.append((f"input {i}", x))
        args.append(x)
    targets = checked_inputs + params
    if not targets:
        raise UserError("gradcheck: nothing to check — no floating inputs and no parameters")

    with torch.no_grad():
        out = fn(*args)
    if not isinstance(out, torch.Tensor):
        raise UserError(f"gradcheck: the function must return a tensor, found {type(out).__name__}")
    cotangent = torch.randn(out.shape, generator=gen, dtype=torch.float64).to(out.device)

    def objective() -> torch.Tensor:
        return (fn(*args).to(torch.float64) * cotangent).sum()

    tensors = [t for _, t in targets]
    analytic = torch.autograd.grad(objective(), tensors, allow_unused=True)

    result = GradcheckResult(eps=eps)
    with torch.no_grad():
        for (name, t), a in zip(targets, analytic):
            a = torch.zeros_like(t) if a is None else a
            flat = t.view(-1)
            n = flat.numel()
            if max_per_tensor is not None and max_per_tensor < n:
                index = torch.randperm(n, generator=gen)[:max_per_tensor].tolist()
            else:
                index = list(range(n))
            numeric = torch.empty(len(index), dtype=torch.float64)
            for k, i in enumerate(index):
                old = flat[i].item()
                flat[i] = old + eps
                plus = objective().item()
                flat[i] = old - eps
                minus = objective().item()
                flat[i] = old
                numeric[k] = (plus - minus) / (2 * eps)
            analytic_sel = a.detach().reshape(-1)[index].cpu()
            err = relative_error(analytic_sel, numeric, tiny)
            worst = int(err.argmax()) if len(index) else 0
            result.checks.append(
                TensorCheck(
                    name=name,
                    shape=tuple(t.shape),
                    max_rel_error=float(err.max()) if len(index) else 0.0,
                    worst_index=index[worst] if len(index) else -1,
                    checked=len(index),
                )
            )
    return result
