"""Learning-rate warmup, composable with any schedule (Goyal et al. 2017, "Accurate, Large
Minibatch SGD: Training ImageNet in 1 Hour").

With a large batch (and the LR scaled up with it), the first steps of training are the most
fragile; warmup starts with a small LR and reaches the schedule's LR after W steps:

* ``mode="linear"`` (Goyal's "gradual warmup"): the factor climbs in equal increments from
  `start_factor` (default ``1/(W + 1)``, i.e. from about 0) to 1 at step W.
* ``mode="constant"``: `start_factor` (default 0.1) for the first W steps, then 1.

The warmup factor MULTIPLIES the wrapped schedule evaluated at the same (t, T), so milestones and
the run length keep their meaning ("decay at step 30" is still step 30) and the LR is continuous
at the end of a linear warmup.

Example:
    >>> s = with_warmup(Cosine(), warmup_steps=3)
    >>> s
    with_warmup(cosine(min_factor=0.0), warmup_steps=3, mode='linear')
    >>> [round(s(t, 9), 3) for t in range(5)]
    [0.25, 0.481, 0.64, 0.691, 0.5]
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

from trainwell.errors import UserError
from trainwell.optim.checks import check_choice, check_float, check_int
from trainwell.optim.schedules import Schedule


@dataclasses.dataclass(frozen=True, repr=False)
class WithWarmup(Schedule):
    """`schedule` with a warmup of `warmup_steps` steps (or `warmup_fraction` of the run).

    Formula (Python, executed by the tests)::

        W = warmup_steps if warmup_steps is not None else floor(warmup_fraction * T + 0.5)
        if start_factor is not None:
            f0 = start_factor
        else:
            f0 = 1 / (W + 1) if mode == "linear" else 0.1
        if t >= W:
            ramp = 1.0
        elif mode == "linear":
            ramp = f0 + (1 - f0) * t / W
        else:
            ramp = f0
        factor = ramp * schedule(t, T)
    """

    name: ClassVar[str] = "with_warmup"
    schedule: Schedule
    warmup_steps: int | None = None
    warmup_fraction: float | None = None
    mode: str = "linear"
    start_factor: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.schedule, Schedule):
            raise UserError(
                f"with_warmup: schedule must be a Schedule (e.g. build_schedule('cosine')), got {self.schedule!r}"
            )
        if (self.warmup_steps is None) == (self.warmup_fraction is None):
            raise UserError(
                "with_warmup: give exactly one of warmup_steps (an integer) and warmup_fraction "
                f"(of the run, in [0, 1)), got warmup_steps={self.warmup_steps!r}, "
                f"warmup_fraction={self.warmup_fraction!r}"
            )
        if self.warmup_steps is not None:
            check_int(self.warmup_steps, "warmup_steps", 0)
        else:
            check_float(self.warmup_fraction, "warmup_fraction", 0.0, 1.0, high_open=True)
        check_choice(self.mode, "warmup mode", ("linear", "constant"))
        if self.start_factor is not None:
            check_float(self.start_factor, "warmup start_factor", 0.0, 1.0)

    def warmup_length(self, total_steps: int) -> int:
        """W, the number of warmup steps for a run of `total_steps`."""
        if self.warmup_steps is not None:
            return self.warmup_steps
        assert self.warmup_fraction is not None
        return math.floor(self.warmup_fraction * total_steps + 0.5)

    def check(self, total_steps: int) -> None:
        warm = self.warmup_length(total_steps)
        if warm >= total_steps and warm > 0:
            raise UserError(
                f"warmup of {warm} steps does not fit in a run of total_steps={total_steps}; "
                "use fewer warmup steps or a longer run"
            )
        self.schedule.check(total_steps)

    def ramp(self, t: int, total_steps: int) -> float:
        """The warmup factor alone (1 from step W on)."""
        warm = self.warmup_length(total_steps)
        if t >= warm:
            return 1.0
        if self.start_factor is not None:
            f0 = self.start_factor
        else:
            f0 = 1.0 / (warm + 1) if self.mode == "linear" else 0.1
        if self.mode == "linear":
            return f0 + (1.0 - f0) * t / warm
        return f0

    def factor(self, t: int, total_steps: int) -> float:
        return self.ramp(t, total_steps) * self.schedule.factor(t, total_steps)

    def cycle_ends(self, total_steps: int) -> list[int]:
        """The wrapped schedule's cycle ends (for cosine_restarts: snapshot ensembles)."""
        inner = getattr(self.schedule, "cycle_ends", None)
        if inner is None:
            raise UserError(f"{self.schedule!r} has no cycles; use cosine_restarts for snapshot ensembles")
        return inner(total_steps)

    def __repr__(self) -> str:
        rest = {k: v for k, v in self.options().items() if k != "schedule"}
        return f"with_warmup({self.schedule!r}, {', '.join(f'{k}={v!r}' for k, v in rest.items())})"

    def spec(self) -> dict[str, Any]:
        """The wrapped schedule's spec plus the warmup keys `build_schedule` understands."""
        spec = self.schedule.spec()
        for key in ("warmup_steps", "warmup_fraction"):
            if getattr(self, key) is not None:
                spec[key] = getattr(self, key)
        spec["warmup"] = self.mode
        if self.start_factor is not None:
            spec["warmup_start_factor"] = self.start_factor
        return spec


def with_warmup(
    schedule: Schedule,
    warmup_steps: int | None = None,
    warmup_fraction: float | None = None,
    mode: str = "linear",
    start_factor: float | None = None,
) -> WithWarmup:
    """Wrap `schedule` with a linear (gradual) or constant warmup; see the module docstring."""
    return WithWarmup(schedule, warmup_steps, warmup_fraction, mode, start_factor)


__all__ = ["WithWarmup", "with_warmup"]
