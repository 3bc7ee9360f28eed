"""Gradient checking: autograd gradients against centered finite differences, in float64.

The lectures' recipe (CS231n, "Gradient checks"): for coordinates θ_i of every checked tensor

    numeric_i = (f(θ + h·e_i) − f(θ − h·e_i)) / (2h)          (centered: error O(h²), not O(h))

and compare it with the analytic (autograd) gradient a_i by the relative error

    |a − n| / max(|a|, |n|)

read with the lectures' thresholds (`verdict_for`):

    e > 1e-2                 wrong       "the gradient is probably wrong"
    1e-4 < e ≤ 1e-2          suspicious  "should make you feel uncomfortable" (a 1 % error lands here)
    1e-7 < e ≤ 1e-4          ok          when the function has kinks (ReLU, max pooling, ...)
                             high        when it has none: "if no kinks, 1e-4 is too high"
    e ≤ 1e-7                 good        "you should be happy"

`ok` (the check passes) unless some tensor is suspicious or wrong.

The relative error of a tensor. The per-coordinate formula divides the finite difference's
rounding noise by that coordinate's own gradient, which can be arbitrarily small (a saturated
tanh unit, a deep layer): a *correct* 10-layer tanh net (width 32, PyTorch's default init,
8 examples) showed 8e-6 at its worst coordinate. Here the denominator is the tensor's gradient
scale S = max_i max(|a_i|, |n_i|) over the checked coordinates, so

    e = max_i |a_i − n_i| / S

is the lecture's formula at the coordinate with the largest gradient and bounds every other
coordinate's disagreement by e·S (the same net: 7e-9). A backward pass that is 1 % off everywhere
gives e = 0.01/1.01 ≈ 0.0099 (suspicious), one with a wrong factor ≥ 2 % gives > 1e-2 (wrong).

Noise floor. In precision ε (2.2e-16 in float64) each evaluation of f is rounded by about
ε·F with F = |f| + Σ_k |∂f/∂y_k · y_k| (the outputs' rounding carried to f), so a finite
difference cannot resolve gradients below η = ε·F/h. A tensor with S ≤ 10·η is reported as
"zero": autograd and the finite differences agree that its gradient vanishes (a bias followed by
BatchNorm, an unused parameter), and no relative error is formed from noise.

Step h. Truncation error ≈ h²·|f'''|/6, rounding error ≈ ε·F/h; the sum is smallest near
h ≈ ε^(1/3) ≈ 6e-6 in float64, hence the default eps = 1e-5 (CS231n: "h ≈ 1e-5"). Measured on
correct nets (32 examples, seed 0): a tanh MLP 20-64-10 gives 4e-10 at eps 1e-5 and 4e-9 at
eps 1e-6; ten tanh layers of 32 give 1.4e-8 and 1.3e-7.

Why float64. In float32 (ε = 1.2e-7, best h ≈ 5e-3) the check cannot tell a correct backward
from a wrong one. The same tanh MLP, its output's backward scaled by 1, 1.0001, 1.001, 1.01:

    float32, eps 1e-2     1.3e-4   1.8e-4   1.1e-3   1.0e-2      (all "suspicious")
    float32, eps 1e-3     1.8e-3   1.8e-3   2.3e-3   1.1e-2
    float64, eps 1e-5     4.2e-10  1.0e-4   1.0e-3   9.9e-3      (good, high, suspicious, suspicious)

So everything runs in `dtype` = float64 on a *copy*: a module is deep-copied and converted,
floating inputs are cloned; the caller's module and tensors are never touched.

Kinks. With a module, `trainwell.diagnostics.kinks.KinkTracker` records which side of every
kink each element is on; a coordinate whose ± evaluations are on different sides (it "crossed a
kink", where the finite difference averages two slopes) is left out and counted. The result
names the kinked layers; `kinks=True/False` overrides the detection (e.g. for a function that
uses torch.relu, which hooks cannot see).

What f is. With `reduce=None` a non-scalar output y is reduced to f = Σ r ⊙ y with a fixed
random r ~ N(0, 1) (from the generator): this checks the vector–Jacobian product autograd
computes for a random cotangent. `reduce=lambda y: loss(y, target)` checks the loss instead.
The function must be deterministic (dropout in eval mode): two evaluations at the same point
that differ by more than η raise a UserError.

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

from trainwell.diagnostics.kinks import KinkTracker, same_side
from trainwell.errors import UserError

GOOD = 1e-7
ACCEPTABLE = 1e-4
WRONG = 1e-2
ZERO_FLOOR = 10.0  # a tensor whose gradient scale S ≤ 10·η is "zero"
# Severity order, mildest first; "zero" (gradient below the resolution) and "unchecked" (every
# sampled coordinate crossed a kink) pass like "good".
VERDICTS = ("zero", "unchecked", "good", "ok", "high", "suspicious", "wrong")
FAILING = ("suspicious", "wrong")


def verdict_for(error: float, kinks: bool = False) -> str:
    """The lectures' reading of a relative error (thresholds in the module docstring)."""
    if not error == error:  # NaN
        return "wrong"
    if error > WRONG:
        return "wrong"
    if error > ACCEPTABLE:
        return "suspicious"
    if error > GOOD:
        return "ok" if kinks else "high"
    return "good"


def relative_error(analytic: torch.Tensor, numeric: torch.Tensor, scale: float | None = None) -> torch.Tensor:
    """|a − n| / max(|a|, |n|) elementwise (0 where both are 0); with `scale`, |a − n| / scale."""
    diff = (analytic - numeric).abs()
    if scale is not None:
        return diff / scale
    denom = torch.maximum(analytic.abs(), numeric.abs())
    return torch.where(denom > 0, diff / torch.where(denom > 0, denom, 1.0), 0.0)


@dataclass
class TensorCheck:
    """One checked tensor: `name` ("input 0", "param 0.weight"), its shape, the relative error
    e over the checked coordinates (None when the verdict is "zero" or "unchecked"), the flat
    index of the coordinate with the largest |a − n|, the gradient scale S, the resolution η/S (the
    relative error rounding alone can produce: an error near it is noise, not a bug), how many
    coordinates were compared and how many were left out because they crossed a kink."""

    name: str
    shape: tuple[int, ...]
    max_rel_error: float | None
    worst_index: int
    checked: int
    scale: float = 0.0
    resolution: float | None = None
    kink_crossings: int = 0
    kinks: bool = False
    zero: bool = False

    @property
    def verdict(self) -> str:
        if self.checked == 0:
            return "unchecked"
        if self.zero:
            return "zero"
        assert self.max_rel_error is not None
        return verdict_for(self.max_rel_error, self.kinks)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "shape": list(self.shape),
            "max_rel_error": self.max_rel_error,
            "worst_index": self.worst_index,
            "checked": self.checked,
            "gradient_scale": self.scale,
            "resolution": self.resolution,
            "kink_crossings": self.kink_crossings,
            "verdict": self.verdict,
        }


@dataclass
class GradcheckResult:
    """Per-tensor results (inputs first, then parameters). `verdict` is the worst one; `ok` is
    True unless some tensor is suspicious or wrong; `good` requires every tensor good (or zero).
    `kinks` names the kinked layers found, `has_kinks` is what the thresholds used, `noise` is
    the resolution η of the finite differences."""

    checks: list[TensorCheck] = field(default_factory=list)
    eps: float = 1e-5
    dtype: str = "float64"
    noise: float = 0.0
    kinks: list[str] = field(default_factory=list)
    has_kinks: bool = False
    kinks_untracked: list[str] = field(default_factory=list)

    @property
    def max_rel_error(self) -> float:
        return max((c.max_rel_error for c in self.checks if c.max_rel_error is not None), default=0.0)

    @property
    def verdict(self) -> str:
        return max((c.verdict for c in self.checks), key=VERDICTS.index, default="good")

    @property
    def ok(self) -> bool:
        return self.verdict not in FAILING

    @property
    def good(self) -> bool:
        return all(c.verdict in ("good", "zero") for c in self.checks)

    @property
    def kink_crossings(self) -> int:
        return sum(c.kink_crossings for c in self.checks)

    def __getitem__(self, name: str) -> TensorCheck:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"no checked tensor named {name!r}; checked: {[c.name for c in self.checks]}")

    def to_json(self) -> dict[str, Any]:
        return {
            "eps": self.eps,
            "dtype": self.dtype,
            "noise": self.noise,
            "verdict": self.verdict,
            "ok": self.ok,
            "max_rel_error": self.max_rel_error,
            "kinks": self.kinks,
            "has_kinks": self.has_kinks,
            "kink_crossings": self.kink_crossings,
            "kinks_untracked": self.kinks_untracked,
            "thresholds": {"good": GOOD, "acceptable": ACCEPTABLE, "wrong": WRONG},
            "tensors": [c.to_json() for c in self.checks],
        }


def _as_tuple(inputs: Any) -> tuple[Any, ...]:
    if isinstance(inputs, torch.Tensor):
        return (inputs,)
    if isinstance(inputs, (tuple, list)):
        return tuple(inputs)
    raise UserError(f"gradcheck: inputs must be a tensor or a tuple of tensors, found {type(inputs).__name__}")


def _pick(n: int, max_per_tensor: int | None, generator: torch.Generator) -> list[int]:
    """All of range(n), or `max_per_tensor` of them drawn without replacement (sorted)."""
    if max_per_tensor is None or max_per_tensor >= n:
        return list(range(n))
    return sorted(torch.randperm(n, generator=generator)[:max_per_tensor].tolist())


def gradcheck(
    fn_or_module: Callable[..., torch.Tensor] | nn.Module,
    inputs: torch.Tensor | Sequence[Any],
    eps: float = 1e-5,
    *,
    reduce: Callable[[torch.Tensor], torch.Tensor] | None = None,
    check_inputs: bool = True,
    max_per_tensor: int | None = 32,
    generator: torch.Generator | None = None,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    kinks: bool | None = None,
) -> GradcheckResult:
    """Compare autograd with centered finite differences for floating inputs and parameters.

    Args:
        fn_or_module: a module (its parameters are checked too, its kinks tracked) or a function
            of the inputs. It must be deterministic (put dropout in eval mode).
        inputs: one tensor or a tuple; floating tensors are checked, others passed through.
        eps: finite-difference step h (default 1e-5, see the module docstring).
        reduce: maps the output to the scalar f; default Σ r ⊙ y with r ~ N(0, 1).
        check_inputs: also check the gradients with respect to floating inputs.
        max_per_tensor: check at most this many coordinates per tensor, drawn at random
            (CS231n's sparse check); None checks all of them.
        generator: draws r and the coordinates; default `torch.Generator().manual_seed(seed)`.
        dtype: precision of the check (float64; float32 only to see why not).
        kinks: whether f has kinks (selects "ok" or "high" for 1e-7 < e ≤ 1e-4); None detects
            kinked layers of a module.

    Returns:
        GradcheckResult with one TensorCheck per input ("input i") and parameter ("param name").
    """
    if not eps > 0 or eps != eps or eps == float("inf"):
        raise UserError(f"gradcheck: eps must be a finite number > 0, found {eps}")
    if max_per_tensor is not None and max_per_tensor < 1:
        raise UserError(f"gradcheck: max_per_tensor must be ≥ 1 or None, found {max_per_tensor}")
    gen = generator if generator is not None else torch.Generator().manual_seed(seed)
    tracker = None
    if isinstance(fn_or_module, nn.Module):
        module = copy.deepcopy(fn_or_module).to(dtype)
        fn: Callable[..., torch.Tensor] = module
        params = [(f"param {n}", p) for n, p in module.named_parameters() if p.requires_grad]
        tracker = KinkTracker(module)
    elif callable(fn_or_module):
        fn = fn_or_module
        params = []
    else:
        raise UserError(f"gradcheck: expected an nn.Module or a function, found {type(fn_or_module).__name__}")
    try:
        return _check(fn, params, inputs, eps, reduce, check_inputs, max_per_tensor, gen, dtype, kinks, tracker)
    finally:
        if tracker is not None:
            tracker.remove()


def _check(fn, params, inputs, eps, reduce, check_inputs, max_per_tensor, gen, dtype, kinks, tracker) -> GradcheckResult:
    args, checked_inputs = [], []
    for i, x in enumerate(_as_tuple(inputs)):
        if isinstance(x, torch.Tensor) and x.is_floating_point():
            x = x.detach().to(dtype).clone().requires_grad_(check_inputs)
            if check_inputs:
                checked_inputs.append((f"input {i}", x))
        args.append(x)
    targets = checked_inputs + params
    if not targets:
        raise UserError("gradcheck: nothing to check — no floating inputs and no parameters")
    for _, t in targets:
        if not t.is_contiguous():
            t.data = t.data.contiguous()

    with torch.no_grad():
        out = fn(*args)
    if not isinstance(out, torch.Tensor):
        raise UserError(f"gradcheck: the function must return a tensor, found {type(out).__name__}")
    if reduce is None:
        cotangent = torch.randn(out.shape, generator=gen, dtype=dtype).to(out.device)

        def reduce(y: torch.Tensor) -> torch.Tensor:
            return (y.to(dtype) * cotangent).sum()

    def objective() -> torch.Tensor:
        f = reduce(fn(*args))
        if not isinstance(f, torch.Tensor) or f.numel() != 1:
            raise UserError(f"gradcheck: reduce must return a scalar tensor, found {getattr(f, 'shape', type(f).__name__)}")
        return f.reshape(())

    # The resolution η = ε·F/h, F = |f| + Σ|∂f/∂y ⊙ y| (see the module docstring).
    with torch.enable_grad():
        y = fn(*args).detach().requires_grad_()
        f_y = reduce(y)
        (g_y,) = torch.autograd.grad(f_y, y, allow_unused=True)
    scale_f = abs(float(f_y.detach())) + (float((g_y * y.detach()).abs().sum()) if g_y is not None else 0.0)
    noise = torch.finfo(dtype).eps * scale_f / eps

    tensors = [t for _, t in targets]
    analytic = torch.autograd.grad(objective(), tensors, allow_unused=True)

    found = tracker.names if tracker is not None else []
    has_kinks = bool(found) if kinks is None else bool(kinks)
    result = GradcheckResult(eps=eps, dtype=str(dtype).replace("torch.", ""), noise=noise, kinks=list(found),
                             has_kinks=has_kinks)

    def evaluate() -> tuple[float, list[torch.Tensor]]:
        if tracker is not None:
            tracker.start()
        value = objective().item()
        return value, tracker.patterns() if tracker is not None else []

    with torch.no_grad():
        f0, base = evaluate()
        f1, _ = evaluate()
        if abs(f0 - f1) > noise:
            raise UserError(
                f"gradcheck: the function is not deterministic: two evaluations at the same point gave "
                f"{f0!r} and {f1!r}. Put dropout and other random layers in eval mode (model.eval()) "
                "or fix their randomness before checking gradients."
            )
        for (name, t), a in zip(targets, analytic):
            a = torch.zeros_like(t) if a is None else a.detach()
            flat = t.view(-1)
            index = _pick(flat.numel(), max_per_tensor, gen)
            numeric, kept, crossed = [], [], 0
            for i in index:
                old = flat[i].item()
                flat[i] = old + eps
                hi = flat[i].item()
                plus, p_plus = evaluate()
                flat[i] = old - eps
                lo = flat[i].item()
                minus, p_minus = evaluate()
                flat[i] = old
                if not (same_side(p_plus, base) and same_side(p_minus, base)):
                    crossed += 1
                    continue
                numeric.append((plus - minus) / (hi - lo))
                kept.append(i)
            result.checks.append(_tensor_check(name, t, a, kept, numeric, crossed, noise, has_kinks))
    if tracker is not None:
        result.kinks_untracked = list(tracker.untracked)
    return result


def _tensor_check(name, t, a, kept, numeric, crossed, noise, has_kinks) -> TensorCheck:
    check = TensorCheck(name=name, shape=tuple(t.shape), max_rel_error=None, worst_index=-1, checked=len(kept),
                        kink_crossings=crossed, kinks=has_kinks)
    if not kept:
        return check
    n = torch.tensor(numeric, dtype=torch.float64)
    a_sel = a.reshape(-1)[kept].to(device="cpu", dtype=torch.float64)
    diff = (a_sel - n).abs()
    check.worst_index = kept[int(diff.argmax())]
    check.scale = float(torch.maximum(a_sel.abs(), n.abs()).max())
    if check.scale <= ZERO_FLOOR * noise:
        check.zero = True
        return check
    check.max_rel_error = float(diff.max()) / check.scale
    check.resolution = noise / check.scale
    return check
