"""Cyclic learning-rate schedules: one-cycle, triangular cycles, cosine with warm restarts.

Same conventions as `schedules.py`: factor of the base LR (here the PEAK LR), step from 0,
formulas as Python in each docstring (executed by the tests).
"""
from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

from trainwell.errors import UserError
from trainwell.optim.checks import check_bool, check_choice, check_float, check_int
from trainwell.optim.schedules import Schedule


def _cos_anneal(start: float, end: float, q: float) -> float:
    """Half a cosine from `start` (q = 0) to `end` (q = 1), written as torch's OneCycleLR writes it."""
    return end + (start - end) / 2.0 * (math.cos(math.pi * q) + 1.0)


def _linear_anneal(start: float, end: float, q: float) -> float:
    """A straight line from `start` (q = 0) to `end` (q = 1), written as torch's OneCycleLR writes it."""
    return (end - start) * q + start


@dataclasses.dataclass(frozen=True, repr=False)
class OneCycle(Schedule):
    """The 1cycle policy (Smith & Topin 2018, "Super-Convergence"): up, then far down.

    The base LR is the PEAK LR (factor 1). With ``lo = 1/div_factor`` and
    ``end = lo/final_div_factor``, the factor moves through phases, each ending at a (possibly
    fractional) step:

    * two phases (default): ``lo -> 1`` until step ``pct_start*T - 1``, then ``1 -> end`` at the
      last step ``T - 1``;
    * ``three_phase=True`` (Smith's original 1cycle, needs ``pct_start <= 0.5``): ``lo -> 1`` until
      ``pct_start*T - 1``, back ``1 -> lo`` over the same length until ``2*pct_start*T - 2``, then
      ``lo -> end`` ("annihilation") at the last step.

    Every phase has the same shape: half a cosine (`anneal="cos"`) or a straight line
    (`anneal="linear"`). A step belongs to the first phase whose end it does not pass (the last
    phase takes the rest), and its position in the phase is measured from the previous phase's end,
    even when that end is negative (short runs): this is exactly ``torch.optim.lr_scheduler.OneCycleLR``
    with ``cycle_momentum=False`` (momentum is not scheduled here), for every length T >= 1 — a test
    compares T = 1..50. One case torch leaves undefined (it divides 0 by 0): a first phase of
    length 0 (``pct_start*T == 1``) at step 0; its value here is the phase's end, the peak 1.
    A run of one step is its own last step, so it gets `end`.

    Formula (Python, executed by the tests)::

        lo, end = 1 / div_factor, 1 / div_factor / final_div_factor
        if three_phase:
            phases = [(pct_start * T - 1, lo, 1.0), (2 * pct_start * T - 2, 1.0, lo), (T - 1, lo, end)]
        else:
            phases = [(pct_start * T - 1, lo, 1.0), (T - 1, 1.0, end)]
        if anneal == "cos":
            shape = lambda a, b, q: b + (a - b) / 2 * (cos(pi * q) + 1)
        else:
            shape = lambda a, b, q: (b - a) * q + a
        first = 0.0
        for i, (last, a, b) in enumerate(phases):
            if t <= last or i == len(phases) - 1:
                q = 1.0 if last == first else (t - first) / (last - first)
                factor = shape(a, b, q)
                break
            first = last

    Example: ``OneCycle(pct_start=0.5, div_factor=10, final_div_factor=10, anneal="linear")``
    over 5 steps: peak at 1.5 -> 0.1, 0.7, 0.802, 0.406, 0.01. The same with ``three_phase=True``
    and ``pct_start=0.25`` over 8 steps: up to 1 at step 1, back to 0.1 at step 2, then a line to
    0.01 at step 7: 0.1, 1, 0.1, 0.082, 0.064, 0.046, 0.028, 0.01.
    """

    name: ClassVar[str] = "onecycle"
    pct_start: float = 0.3
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    anneal: str = "cos"
    three_phase: bool = False

    def __post_init__(self) -> None:
        check_float(self.pct_start, "onecycle: pct_start", 0.0, 1.0, low_open=True, high_open=True)
        check_float(self.div_factor, "onecycle: div_factor", 1.0)
        check_float(self.final_div_factor, "onecycle: final_div_factor", 1.0)
        check_choice(self.anneal, "onecycle: anneal", ("cos", "linear"))
        check_bool(self.three_phase, "onecycle: three_phase")
        if self.three_phase and self.pct_start > 0.5:
            raise UserError(
                f"onecycle: three_phase = true needs pct_start <= 0.5 (the way up and the way back down "
                f"take pct_start of the run each, the final anneal the rest), got pct_start={self.pct_start!r}"
            )

    def phases(self, total_steps: int) -> list[tuple[float, float, float]]:
        """[(last step of the phase, start factor, end factor), ...]; the last step may be fractional or negative."""
        lo = 1.0 / self.div_factor
        end = lo / self.final_div_factor
        rise = self.pct_start * total_steps - 1.0
        if self.three_phase:
            return [(rise, lo, 1.0), (2 * self.pct_start * total_steps - 2.0, 1.0, lo), (total_steps - 1, lo, end)]
        return [(rise, lo, 1.0), (total_steps - 1, 1.0, end)]

    def factor(self, t: int, total_steps: int) -> float:
        # Float operations in the same order as torch's OneCycleLR, so the values agree to the last bit.
        shape = _cos_anneal if self.anneal == "cos" else _linear_anneal
        phases = self.phases(total_steps)
        first = 0.0
        for i, (last, a, b) in enumerate(phases):
            if t <= last or i == len(phases) - 1:
                q = 1.0 if last == first else (t - first) / (last - first)
                return shape(a, b, q)
            first = last
        raise AssertionError("unreachable: the last phase takes every step")


def _cycles_or_steps(cycles: int | None, cycle_steps: int | None, who: str, min_steps: int) -> int | None:
    """Validate the pair; default 4 cycles when neither is given. Returns the resolved `cycles`."""
    if cycles is not None and cycle_steps is not None:
        raise UserError(
            f"{who}: give cycles (a count) or cycle_steps (a length), not both; "
            f"got cycles={cycles!r}, cycle_steps={cycle_steps!r}"
        )
    if cycle_steps is not None:
        check_int(cycle_steps, f"{who}: cycle_steps", min_steps)
        return None
    if cycles is None:
        return 4
    return check_int(cycles, f"{who}: cycles", 1)


@dataclasses.dataclass(frozen=True, repr=False)
class Cyclic(Schedule):
    """Triangular cyclic LR (Smith 2015, "Cyclical Learning Rates for Training Neural Networks").

    The factor goes linearly from `min_factor` up to 1 in half a cycle and back down in the
    other half, repeatedly; ``mode="triangular2"`` halves the height of each new cycle.
    Cycle length ``L = cycle_steps`` or ``T / cycles`` (may be fractional); default 4 cycles.
    Smith suggests a half cycle (his "stepsize") of 2-10 epochs and ``min_factor`` about 1/3-1/10
    (take the bounds from an LR range test). Matches ``torch.optim.lr_scheduler.CyclicLR`` with
    ``base_lr = min_factor * lr``, ``max_lr = lr``, ``step_size_up = L / 2``.

    Formula (Python, executed by the tests)::

        L = cycle_steps if cycle_steps is not None else T / cycles
        k = floor(t / L)
        x = abs(2 * (t - k * L) / L - 1)
        height = 1 if mode == "triangular" else 0.5 ** k
        factor = min_factor + (1 - min_factor) * (1 - x) * height

    Example: ``Cyclic(min_factor=0.2, cycle_steps=4)``: 0.2, 0.6, 1, 0.6, 0.2, 0.6, 1, ...;
    with ``mode="triangular2"``: 0.2, 0.6, 1, 0.6, 0.2, 0.4, 0.6, 0.4, 0.2, 0.3, ...
    """

    name: ClassVar[str] = "cyclic"
    min_factor: float = 0.1
    cycles: int | None = None
    cycle_steps: int | None = None
    mode: str = "triangular"

    def __post_init__(self) -> None:
        check_float(self.min_factor, "cyclic: min_factor", 0.0, 1.0)
        check_choice(self.mode, "cyclic: mode", ("triangular", "triangular2"))
        object.__setattr__(self, "cycles", _cycles_or_steps(self.cycles, self.cycle_steps, "cyclic", 2))

    def cycle_length(self, total_steps: int) -> float:
        return float(self.cycle_steps) if self.cycle_steps is not None else total_steps / self.cycles

    def check(self, total_steps: int) -> None:
        if self.cycles is not None and total_steps < 2 * self.cycles:
            raise UserError(
                f"cyclic: cycles={self.cycles} needs total_steps >= {2 * self.cycles} "
                f"(2 steps a cycle), got {total_steps}"
            )

    def factor(self, t: int, total_steps: int) -> float:
        length = self.cycle_length(total_steps)
        k = math.floor(t / length)
        x = abs(2.0 * (t - k * length) / length - 1.0)
        height = 1.0 if self.mode == "triangular" else 0.5**k
        return self.min_factor + (1.0 - self.min_factor) * (1.0 - x) * height


@dataclasses.dataclass(frozen=True, repr=False)
class CosineRestarts(Schedule):
    """Cosine annealing with warm restarts (SGDR, Loshchilov & Hutter 2016).

    The run is cut into cycles; in each the factor follows a cosine from 1 down to `min_factor`,
    reached at the cycle's last step, then jumps back to 1. With ``cycles=M`` the cycles have
    equal length up to rounding (cycle k starts at step ceil(k T / M)); with ``cycle_steps=L``
    every cycle has L steps and a last, partial cycle is cut short. Default 4 cycles.

    Snapshot ensembles (Huang et al. 2017, "Snapshot Ensembles: Train 1, get M for free") save the
    model at the end of every cycle, where the LR is lowest: see `cycle_ends`.

    Formula (Python, executed by the tests)::

        if cycle_steps is not None:
            k = t // cycle_steps
            start = k * cycle_steps
            length = min(cycle_steps, T - start)
        else:
            k = floor(t * cycles / T)
            start = ceil(k * T / cycles)
            length = ceil((k + 1) * T / cycles) - start
        i = t - start
        factor = min_factor + (1 - min_factor) * (1 + cos(pi * i / max(length - 1, 1))) / 2

    Example: ``CosineRestarts(cycles=2)`` over 6 steps: 1, 0.5, 0, 1, 0.5, 0;
    ``cycle_ends(6) == [2, 5]``.
    """

    name: ClassVar[str] = "cosine_restarts"
    cycles: int | None = None
    cycle_steps: int | None = None
    min_factor: float = 0.0

    def __post_init__(self) -> None:
        check_float(self.min_factor, "cosine_restarts: min_factor", 0.0, 1.0)
        object.__setattr__(
            self, "cycles", _cycles_or_steps(self.cycles, self.cycle_steps, "cosine_restarts", 1)
        )

    def check(self, total_steps: int) -> None:
        if self.cycles is not None and total_steps < self.cycles:
            raise UserError(
                f"cosine_restarts: cycles={self.cycles} needs total_steps >= {self.cycles}, got {total_steps}"
            )

    def _bounds(self, t: int, total_steps: int) -> tuple[int, int]:
        """(first step, length) of the cycle that contains step t."""
        if self.cycle_steps is not None:
            start = (t // self.cycle_steps) * self.cycle_steps
            return start, min(self.cycle_steps, total_steps - start)
        m = self.cycles
        assert m is not None
        k = t * m // total_steps
        start = -(-k * total_steps // m)  # ceil(k T / m) in integers
        end = -(-(k + 1) * total_steps // m)
        return start, end - start

    def factor(self, t: int, total_steps: int) -> float:
        start, length = self._bounds(t, total_steps)
        q = (t - start) / max(length - 1, 1)
        return self.min_factor + (1.0 - self.min_factor) * 0.5 * (1.0 + math.cos(math.pi * q))

    def cycle_ends(self, total_steps: int) -> list[int]:
        """The step numbers (from 0) of the LAST step of each complete cycle, ascending.

        Take a snapshot after the optimizer step with this number (when ``step + 1`` steps are
        done); the LR there is `min_factor`. With `cycles` the last entry is ``T - 1``; with
        `cycle_steps` a trailing partial cycle is not listed.
        """
        self.check(total_steps)
        if self.cycle_steps is not None:
            return [e - 1 for e in range(self.cycle_steps, total_steps + 1, self.cycle_steps)]
        m = self.cycles
        assert m is not None
        return [-(-(k + 1) * total_steps // m) - 1 for k in range(m)]


__all__ = ["CosineRestarts", "Cyclic", "OneCycle"]
