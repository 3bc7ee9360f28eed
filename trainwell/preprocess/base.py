"""What every fit-on-train transform shares: input checks, the fitted state, state_dict.

A preprocessor learns a few statistics from the TRAINING split (`fit`) and applies them,
unchanged, to every split (`transform`). Computing the statistics on the whole data set leaks
the validation and test data into the model — the lectures call that a mistake.

Data convention: float tensors with the example axis first — tabular N×F, 1-D signals N×C×L,
images N×C×H×W. "Per-feature" statistics are taken per element of one example x[i]
(all axes but the first); "per-channel" statistics per index of axis 1 (over N and the spatial
axes). Statistics are computed in float64 and kept in float64 on the device the data was on;
`transform` casts them once to the input's dtype and device (cached), computes in that dtype
(like torchvision's Normalize: fast on GPUs) and returns that dtype. Precision therefore follows
the input: a float32 feature with mean m and std s is only resolved to about ulp(|m|)/s in
standardized units (1e-4 for m = 50, s = 0.02); pass float64 data where that matters.

`state_dict()` holds only strings, numbers, None, lists, dicts and tensors, so a checkpoint that
contains it loads with `torch.load(path, weights_only=True)`:

    {"name": "standardize", "options": {"eps": 1e-08},
     "example_shape": [1, 40],               # None while not fitted
     "stats": {"mean": tensor, "std": tensor}}

A subclass sets `name`, `option_names` (its constructor's parameters, stored as attributes of
the same name) and implements `_fit_stats`, `_stat_shapes`, `_apply` and `_apply_inverse`
(and `_prepare` when the applied tensors are derived from the stored statistics).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import Tensor

from trainwell.errors import UserError


class NotFittedError(RuntimeError):
    """A transform was used before `fit` (or `load_state_dict`) gave it its statistics."""


def shape_str(shape: tuple[int, ...] | list[int]) -> str:
    """(1, 40) -> '(1, 40)'; (40,) -> '(40,)' — the way Python prints a tuple."""
    return str(tuple(int(s) for s in shape))


def numel(shape: tuple[int, ...] | list[int]) -> int:
    """Number of elements of one example of this shape (1 for ())."""
    n = 1
    for s in shape:
        n *= int(s)
    return n


def check_tensor(x: Any, who: str, *, min_ndim: int = 2, layout: str = "N×F") -> Tensor:
    """Raise UserError unless `x` is a floating tensor with the example axis first."""
    if not isinstance(x, Tensor):
        raise UserError(
            f"{who} expects a torch.Tensor (example axis first, e.g. {layout}), "
            f"got {type(x).__name__}; convert with torch.as_tensor(x, dtype=torch.float32)"
        )
    if not x.is_floating_point():
        raise UserError(f"{who} expects a floating-point tensor, got dtype {x.dtype}; convert with x.float()")
    if x.ndim < min_ndim:
        raise UserError(
            f"{who} expects a tensor with at least {min_ndim} axes ({layout}, example axis first), "
            f"got shape {shape_str(x.shape)}"
        )
    return x


def check_fit_input(x: Any, who: str, *, min_ndim: int = 2, layout: str = "N×F", min_examples: int = 1) -> Tensor:
    """Checks for `fit`: a floating tensor, enough examples, every value finite.

    The finiteness check reads one boolean back from the device — fine once per fit.
    """
    x = check_tensor(x, who, min_ndim=min_ndim, layout=layout)
    n = x.shape[0]
    if n == 0:
        raise UserError(f"{who} got an empty training set (shape {shape_str(x.shape)}); it needs at least one example")
    if n < min_examples:
        raise UserError(f"{who} needs at least {min_examples} examples to estimate a spread, got {n}")
    if x[0].numel() == 0:
        raise UserError(f"{who} got examples with no elements (shape {shape_str(x.shape)})")
    finite = torch.isfinite(x)
    if not bool(finite.all()):
        n_nan = int(torch.isnan(x).sum())
        n_inf = int(torch.isinf(x).sum())
        first = int((~finite).reshape(n, -1).any(dim=1).nonzero()[0, 0])
        raise UserError(
            f"{who} got non-finite training data: {n_nan} NaN and {n_inf} Inf values "
            f"(first in example {first}); remove or impute them before fitting"
        )
    return x


def check_eps(eps: Any, who: str) -> float:
    """eps must be a finite number >= 0."""
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not math.isfinite(eps) or eps < 0:
        raise UserError(f"{who}: eps must be a finite number >= 0, got {eps!r}")
    return float(eps)


def safe_scale(spread: Tensor, eps: float) -> Tensor:
    """`spread` where it is > eps, else 1: a (near-)constant feature is only shifted, never blown up.

    With 1/eps instead of 1, a feature that is constant on the training set (a border pixel that
    is always 0, say) would map any different test value to ±huge.
    """
    return torch.where(spread > eps, spread, torch.ones_like(spread))


def channel_view(stat: Tensor, ndim: int) -> Tensor:
    """A per-channel statistic of shape (C,) reshaped to broadcast over N×C×... (ndim axes)."""
    return stat.reshape((1, -1) + (1,) * (ndim - 2))


class Preprocessor:
    """Base of the fit-on-train transforms (see the module docstring for the conventions)."""

    name: ClassVar[str] = "preprocessor"
    option_names: ClassVar[tuple[str, ...]] = ()
    min_ndim: ClassVar[int] = 2
    layout: ClassVar[str] = "N×F, N×C×L or N×C×H×W"
    min_examples: ClassVar[int] = 1

    def __init__(self) -> None:
        self._stats: dict[str, Tensor] = {}
        self._example_shape: tuple[int, ...] | None = None
        self._cache: dict[tuple[torch.device, torch.dtype], dict[str, Tensor]] = {}

    # ---- subclass hooks ------------------------------------------------------------------
    def _fit_stats(self, x64: Tensor) -> dict[str, Tensor]:
        """float64 statistics of the training data `x64` (N×...)."""
        raise NotImplementedError

    def _stat_shapes(self, example_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        """The shape of each stored statistic, for checking a loaded state_dict."""
        raise NotImplementedError

    def _prepare(self, stats: dict[str, Tensor]) -> dict[str, Tensor]:
        """float64 tensors that `_apply` uses, derived from the stored statistics (default: same)."""
        return dict(stats)

    def _apply(self, x: Tensor, p: dict[str, Tensor]) -> Tensor:
        raise NotImplementedError

    def _apply_inverse(self, y: Tensor, p: dict[str, Tensor]) -> Tensor:
        raise NotImplementedError

    def _output_shape(self, example_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of one transformed example (PCA changes it; the others keep it)."""
        return example_shape

    def _check_shape(self, x: Tensor, expected: tuple[int, ...], who: str, what: str) -> None:
        """Per-feature transforms need exactly the fitted example shape (channel ones override)."""
        if tuple(x.shape[1:]) != tuple(expected):
            raise UserError(
                f"{self.name} was fitted on {what} of shape {shape_str(expected)} "
                f"but {who} got {shape_str(x.shape[1:])} (full input shape {shape_str(x.shape)})"
            )

    def _describe(self) -> str:
        """Extra facts for __repr__ once fitted (e.g. how many constant features)."""
        return ""

    # ---- public API ----------------------------------------------------------------------
    @property
    def fitted(self) -> bool:
        """True once `fit` or `load_state_dict` with a fitted state has run."""
        return self._example_shape is not None

    @property
    def example_shape(self) -> tuple[int, ...] | None:
        """Shape of one training example (x.shape[1:]) seen by `fit`, or None."""
        return self._example_shape

    def options(self) -> dict[str, Any]:
        """The hyperparameters (constructor arguments) as plain values."""
        return {n: getattr(self, n) for n in self.option_names}

    def fit(self, x: Tensor) -> "Preprocessor":
        """Learn the statistics from the training data `x` (example axis first). Returns self."""
        x = check_fit_input(
            x, f"{self.name}.fit", min_ndim=self.min_ndim, layout=self.layout, min_examples=self.min_examples
        )
        stats = self._fit_stats(x.detach().to(torch.float64))
        self._stats = {k: v.contiguous() for k, v in stats.items()}
        self._example_shape = tuple(int(s) for s in x.shape[1:])
        self._cache = {}
        return self

    def _params_for(self, x: Tensor) -> dict[str, Tensor]:
        key = (x.device, x.dtype)
        if key not in self._cache:
            prepared = self._prepare(self._stats)
            self._cache[key] = {k: v.to(device=x.device, dtype=x.dtype) for k, v in prepared.items()}
        return self._cache[key]

    def _require_fitted(self, method: str) -> tuple[int, ...]:
        if self._example_shape is None:
            raise NotFittedError(
                f"{self.name} is not fitted: call {self.name}.fit(train_x) (or load_state_dict) before .{method}()"
            )
        return self._example_shape

    def transform(self, x: Tensor) -> Tensor:
        """Apply the training statistics to `x` (any split). Same dtype and device as `x`.

        The statistics are never changed here. `x` is not scanned for NaN (that would cost a
        device sync per call): NaN in gives NaN out at the affected positions.
        """
        shape = self._require_fitted("transform")
        who = f"{self.name}.transform"
        x = check_tensor(x, who, min_ndim=self.min_ndim, layout=self.layout)
        self._check_shape(x, shape, who, "examples")
        return self._apply(x, self._params_for(x))

    def as_module(self, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> "torch.nn.Module":
        """The fitted transform as an `nn.Module` (its statistics as buffers in `dtype`): the same
        arithmetic as `transform`, without the Python checks, so it can be traced, compiled and
        exported (ONNX, torch.export) in front of a model."""
        self._require_fitted("as_module")
        probe = torch.empty(0, dtype=dtype, device=device)
        return FittedTransform(self, {k: v.detach().clone() for k, v in self._params_for(probe).items()})

    def inverse_transform(self, y: Tensor) -> Tensor:
        """Map transformed data back to the input space (see each class for exactness)."""
        shape = self._require_fitted("inverse_transform")
        who = f"{self.name}.inverse_transform"
        y = check_tensor(y, who, min_ndim=2, layout="the transform's output")
        self._check_shape(y, self._output_shape(shape), who, "examples whose transformed shape is")
        return self._apply_inverse(y, self._params_for(y))

    def fit_transform(self, x: Tensor) -> Tensor:
        """`fit(x)` then `transform(x)`."""
        return self.fit(x).transform(x)

    def state_dict(self) -> dict[str, Any]:
        """Plain state (see module docstring); loads with torch.load(weights_only=True).

        The tensors are the stored ones (not copies), like nn.Module.state_dict.
        """
        return {
            "name": self.name,
            "options": self.options(),
            "example_shape": None if self._example_shape is None else list(self._example_shape),
            "stats": dict(self._stats),
        }

    def load_state_dict(self, sd: Mapping[str, Any]) -> "Preprocessor":
        """Restore options and statistics from `state_dict()` output. Returns self.

        The tensors are kept on the device they come on (use torch.load's map_location);
        `transform` moves them to the input's device anyway.
        """
        who = f"{self.name}.load_state_dict"
        if not isinstance(sd, Mapping):
            raise UserError(f"{who} expects a dict from state_dict(), got {type(sd).__name__}")
        missing = [k for k in ("name", "options", "example_shape", "stats") if k not in sd]
        if missing:
            raise UserError(f"{who}: the state dict lacks {missing}; found keys {sorted(sd)}")
        if sd["name"] != self.name:
            raise UserError(f"{who}: this state dict belongs to {sd['name']!r}, not {self.name!r}")
        options = dict(sd["options"])
        unknown = sorted(set(options) - set(self.option_names))
        if unknown:
            raise UserError(f"{who}: unknown options {unknown}; expected {list(self.option_names)}")
        fresh = type(self)(**options)  # validates the options the same way the constructor does
        stats = dict(sd["stats"])
        if sd["example_shape"] is None:
            if stats:
                raise UserError(f"{who}: an unfitted state (example_shape None) must have no stats")
            shape = None
        else:
            shape = tuple(int(s) for s in sd["example_shape"])
            fresh._example_shape = shape  # so _stat_shapes can read fitted options (e.g. k)
            expected = fresh._stat_shapes(shape)
            if sorted(stats) != sorted(expected):
                raise UserError(f"{who}: expected stats {sorted(expected)}, found {sorted(stats)}")
            for key, want in expected.items():
                got = stats[key]
                if not isinstance(got, Tensor):
                    raise UserError(f"{who}: stats[{key!r}] must be a tensor, got {type(got).__name__}")
                if tuple(got.shape) != tuple(want):
                    raise UserError(
                        f"{who}: stats[{key!r}] has shape {shape_str(got.shape)}, "
                        f"expected {shape_str(want)} for examples of shape {shape_str(shape)}"
                    )
            stats = {k: v.detach().to(torch.float64) for k, v in stats.items()}
        for n in self.option_names:
            setattr(self, n, getattr(fresh, n))
        self._stats = stats
        self._example_shape = shape
        self._cache = {}
        return self

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options().items())
        if self._example_shape is None:
            state = "not fitted"
        else:
            state = f"fitted on examples of shape {shape_str(self._example_shape)}"
            extra = self._describe()
            if extra:
                state += f", {extra}"
        return f"{type(self).__name__}({opts}{'; ' if opts else ''}{state})"


class FittedTransform(torch.nn.Module):
    """A fitted preprocessor's `_apply` with its statistics as buffers (see `Preprocessor.as_module`)."""

    def __init__(self, step: Preprocessor, params: dict[str, Tensor]):
        super().__init__()
        self.step_name = step.name
        self._apply_fn = step._apply
        self.names = sorted(params)
        for key in self.names:
            self.register_buffer(f"stat_{key}", params[key])

    def forward(self, x: Tensor) -> Tensor:
        return self._apply_fn(x, {k: getattr(self, f"stat_{k}") for k in self.names})

    def extra_repr(self) -> str:
        return self.step_name
