"""Validation of numeric options: bad values raise UserError naming the field, the allowed
range and the value found (e.g. "optimizer 'sgd': momentum must be a number in [0.0, 1.0), got 1.5")."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from trainwell.errors import UserError, did_you_mean


def check_float(
    value: Any, field: str, low: float | None = None, high: float | None = None,
    low_open: bool = False, high_open: bool = False,
) -> float:
    """`value` as a float inside the interval (closed unless `low_open`/`high_open`), else UserError."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        interval = f"{'(' if low_open or low is None else '['}{lo}, {hi}{')' if high_open or high is None else ']'}"
        raise UserError(f"{field} must be a finite number in {interval}, got {value!r}")
    return float(value)


def check_int(value: Any, field: str, low: int) -> int:
    """`value` if it is an integer >= low (bools refused), else UserError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise UserError(f"{field} must be an integer >= {low}, got {value!r}")
    return value


def check_bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise UserError(f"{field} must be true or false, got {value!r}")
    return value


def check_choice(value: Any, field: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise UserError(
            f"{field} must be one of {', '.join(repr(c) for c in choices)}, got {value!r}"
            f"{did_you_mean(str(value), choices)}"
        )
    return value
