"""Learning-rate schedules as closed-form pure functions: factor = s(step, total_steps).

A schedule returns a FACTOR that multiplies the base learning rate; `LRScheduler` writes
``base_lr * factor * lr_scale`` into the optimizer. Conventions shared by every schedule:

* ``step`` counts from 0: ``s(t, T)`` is the factor for optimizer step number t of T.
* Schedules that go somewhere reach their end value AT THE LAST STEP t = T - 1, with progress
  ``p = t / (T - 1)`` (p = 0 when T = 1). Steps past the end (t >= T) hold the last value.
* Fractions of the run (``step_size=0.3``, ``milestones=[0.5, 0.75]``) are floats and resolve to
  ``floor(fraction * T + 0.5)`` steps; integers are steps.
* Each schedule's docstring holds its formula as Python (variables ``t``, ``T`` and its options);
  a test executes that block and compares it with the code.

This file holds the decays (constant, step, exponential, cosine, linear); `cyclic.py` the cyclic
ones (onecycle, cyclic, cosine_restarts); `warmup.py` the warmup wrapper.

Example:
    >>> s = Cosine(min_factor=0.1)
    >>> [round(s(t, 5), 4) for t in range(5)]
    [1.0, 0.8682, 0.55, 0.2318, 0.1]
    >>> s
    cosine(min_factor=0.1)
"""
from __future__ import annotations

import dataclasses
import math
import operator
from collections.abc import Sequence
from typing import Any, ClassVar

from trainwell.errors import UserError
from trainwell.optim.checks import check_float, check_int


def check_position(step: Any, total_steps: Any, who: str) -> tuple[int, int]:
    """(step, total_steps) as ints; UserError unless step >= 0 and total_steps >= 1."""
    values = []
    for value, field, low in ((step, "step", 0), (total_steps, "total_steps", 1)):
        try:
            if isinstance(value, bool):
                raise TypeError
            v = operator.index(value)
        except TypeError:
            raise UserError(f"{who}: {field} must be an integer, got {value!r}") from None
        if v < low:
            raise UserError(f"{who}: {field} must be >= {low}, got {v}")
        values.append(v)
    return values[0], values[1]


def check_steps_or_fraction(value: Any, field: str, low_steps: int = 1) -> int | float:
    """An int (steps, >= low_steps) or a float fraction of the run in (0, 1]."""
    if isinstance(value, int) and not isinstance(value, bool):
        return check_int(value, field, low_steps)
    if isinstance(value, float):
        return check_float(value, f"{field} (a fraction of total_steps)", 0.0, 1.0, low_open=True)
    raise UserError(
        f"{field} must be an integer number of steps or a float fraction of the run in (0, 1], got {value!r}"
    )


def resolve_steps(value: int | float, total_steps: int) -> int:
    """Steps for an int; floor(fraction * T + 0.5) for a float fraction."""
    if isinstance(value, int):
        return value
    return math.floor(value * total_steps + 0.5)


def progress(t: int, total_steps: int) -> float:
    """p = t / (T - 1) in [0, 1]; 0 when T = 1."""
    return t / max(total_steps - 1, 1)


class Schedule:
    """Base class: a callable ``s(step, total_steps) -> float`` factor of the base learning rate.

    Subclasses are frozen dataclasses with a registry `name`; they implement `factor(t, T)` for
    0 <= t < T (already checked and clamped) and may override `check(T)` to reject a run length
    they cannot serve. `__call__` validates, clamps t to T - 1 and calls `factor`.
    """

    name: ClassVar[str] = "schedule"

    def factor(self, t: int, total_steps: int) -> float:
        raise NotImplementedError

    def check(self, total_steps: int) -> None:
        """Raise UserError if this schedule cannot run for `total_steps` steps."""

    def __call__(self, step: int, total_steps: int) -> float:
        t, total = check_position(step, total_steps, repr(self))
        self.check(total)
        return float(self.factor(min(t, total - 1), total))

    def values(self, total_steps: int) -> list[float]:
        """[s(0, T), ..., s(T - 1, T)] — for plots and tests."""
        return [self(t, total_steps) for t in range(total_steps)]

    def options(self) -> dict[str, Any]:
        """The options that differ from None, by field name."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
            if getattr(self, f.name) is not None
        }

    def spec(self) -> dict[str, Any]:
        """A registry spec that builds an equal schedule: {"name": ..., option: value}."""
        return {"name": self.name, **self.options()}

    def __repr__(self) -> str:
        return f"{self.name}({', '.join(f'{k}={v!r}' for k, v in self.options().items())})"


@dataclasses.dataclass(frozen=True, repr=False)
class Constant(Schedule):
    """The base learning rate throughout.

    Formula (Python, executed by the tests)::

        factor = 1.0
    """

    name: ClassVar[str] = "constant"

    def factor(self, t: int, total_steps: int) -> float:
        return 1.0


@dataclasses.dataclass(frozen=True, repr=False)
class Step(Schedule):
    """Step decay: multiply the LR by `gamma` every `step_size` steps, or at each milestone.

    The classic ImageNet recipe (He et al. 2016): ``milestones=[0.3, 0.6, 0.9], gamma=0.1``.
    Give exactly one of `step_size` (int steps or float fraction of the run) and `milestones`
    (ints or fractions; need not be sorted).

    Formula (Python, executed by the tests)::

        if milestones is None:
            s = step_size if isinstance(step_size, int) else max(1, floor(step_size * T + 0.5))
            factor = gamma ** (t // s)
        else:
            ms = [m if isinstance(m, int) else floor(m * T + 0.5) for m in milestones]
            factor = gamma ** sum(t >= m for m in ms)

    Example: ``Step(step_size=2, gamma=0.5)`` over 6 steps gives 1, 1, 0.5, 0.5, 0.25, 0.25.
    """

    name: ClassVar[str] = "step"
    step_size: int | float | None = None
    gamma: float = 0.1
    milestones: Sequence[int | float] | None = None

    def __post_init__(self) -> None:
        check_float(self.gamma, "step: gamma", 0.0, None, low_open=True)
        if (self.step_size is None) == (self.milestones is None):
            raise UserError(
                "step: give exactly one of step_size (e.g. 0.3 of the run, or 1000 steps) and "
                f"milestones (e.g. [0.5, 0.75]), got step_size={self.step_size!r}, milestones={self.milestones!r}"
            )
        if self.step_size is not None:
            check_steps_or_fraction(self.step_size, "step: step_size")
        else:
            if isinstance(self.milestones, (str, bytes)) or not isinstance(self.milestones, Sequence):
                raise UserError(f"step: milestones must be a list of steps or fractions, got {self.milestones!r}")
            for i, m in enumerate(self.milestones):
                check_steps_or_fraction(m, f"step: milestones[{i}]", low_steps=0)
            object.__setattr__(self, "milestones", tuple(self.milestones))

    def factor(self, t: int, total_steps: int) -> float:
        if self.milestones is None:
            assert self.step_size is not None
            size = max(1, resolve_steps(self.step_size, total_steps))
            return self.gamma ** (t // size)
        passed = sum(t >= resolve_steps(m, total_steps) for m in self.milestones)
        return self.gamma**passed


@dataclasses.dataclass(frozen=True, repr=False)
class Exponential(Schedule):
    """Exponential decay: ``gamma`` per step, or the rate that reaches `final_factor` at the last step.

    Give exactly one of `gamma` (factor per step, in (0, 1]) and `final_factor` (> 0).

    Formula (Python, executed by the tests)::

        if gamma is not None:
            factor = gamma ** t
        else:
            factor = final_factor ** (t / max(T - 1, 1))

    Example: ``Exponential(final_factor=0.01)`` over 3 steps gives 1, 0.1, 0.01.
    """

    name: ClassVar[str] = "exponential"
    gamma: float | None = None
    final_factor: float | None = None

    def __post_init__(self) -> None:
        if (self.gamma is None) == (self.final_factor is None):
            raise UserError(
                "exponential: give exactly one of gamma (decay per step, e.g. 0.999) and final_factor "
                f"(e.g. 0.01 at the last step), got gamma={self.gamma!r}, final_factor={self.final_factor!r}"
            )
        if self.gamma is not None:
            check_float(self.gamma, "exponential: gamma", 0.0, 1.0, low_open=True)
        else:
            check_float(self.final_factor, "exponential: final_factor", 0.0, None, low_open=True)

    def factor(self, t: int, total_steps: int) -> float:
        if self.gamma is not None:
            return self.gamma**t
        assert self.final_factor is not None
        return self.final_factor ** progress(t, total_steps)


@dataclasses.dataclass(frozen=True, repr=False)
class Cosine(Schedule):
    """Cosine annealing from 1 to `min_factor` (Loshchilov & Hutter 2016, "SGDR", without restarts).

    Formula (Python, executed by the tests)::

        p = t / max(T - 1, 1)
        factor = min_factor + (1 - min_factor) * (1 + cos(pi * p)) / 2

    Example: ``Cosine()`` over 3 steps gives 1, 0.5, 0.
    """

    name: ClassVar[str] = "cosine"
    min_factor: float = 0.0

    def __post_init__(self) -> None:
        check_float(self.min_factor, "cosine: min_factor", 0.0, 1.0)

    def factor(self, t: int, total_steps: int) -> float:
        p = progress(t, total_steps)
        return self.min_factor + (1.0 - self.min_factor) * 0.5 * (1.0 + math.cos(math.pi * p))


@dataclasses.dataclass(frozen=True, repr=False)
class Linear(Schedule):
    """Linear interpolation from `start_factor` to `end_factor` at the last step.

    Formula (Python, executed by the tests)::

        p = t / max(T - 1, 1)
        factor = start_factor + (end_factor - start_factor) * p

    Example: ``Linear()`` over 5 steps gives 1, 0.75, 0.5, 0.25, 0.
    """

    name: ClassVar[str] = "linear"
    end_factor: float = 0.0
    start_factor: float = 1.0

    def __post_init__(self) -> None:
        check_float(self.end_factor, "linear: end_factor", 0.0)
        check_float(self.start_factor, "linear: start_factor", 0.0)

    def factor(self, t: int, total_steps: int) -> float:
        p = progress(t, total_steps)
        return self.start_factor + (self.end_factor - self.start_factor) * p


__all__ = [
    "Constant",
    "Cosine",
    "Exponential",
    "Linear",
    "Schedule",
    "Step",
    "check_position",
    "progress",
    "resolve_steps",
]
