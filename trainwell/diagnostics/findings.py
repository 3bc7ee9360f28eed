"""Findings: the plain result of one diagnostic check, with a concrete prescription.

A finding is what `trainwell doctor` prints as one line of its checklist and writes to JSON:

    {"check": "dead_relu", "status": "warn", "layer": "act3",
     "message": "layer act3: 71% dead ReLUs — lower the LR, or use leaky_relu/ELU, ...",
     "numbers": {"dead_frac": 0.71, "threshold": 0.4}}

`status` is "pass", "warn" or "fail"; `layer` names the module (as in `model.named_modules()`)
or is None for whole-model checks; `numbers` holds the measurements and the thresholds they
were compared with, so every verdict can be re-derived from the record.

Example:
    >>> f = Finding("initial_loss", "pass", None, "loss at init 2.31 ≈ log 10 = 2.30", {"loss": 2.31})
    >>> exit_code([f])
    0
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

STATUSES = ("pass", "warn", "fail")


@dataclass
class Finding:
    """One checklist entry (see the module docstring)."""

    check: str
    status: str
    layer: str | None
    message: str
    numbers: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"Finding.status must be one of {STATUSES}, found {self.status!r}")

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "status": self.status, "layer": self.layer, "message": self.message,
                "numbers": {k: _plain(v) for k, v in self.numbers.items()}}

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> "Finding":
        return cls(record["check"], record["status"], record.get("layer"), record["message"],
                   dict(record.get("numbers") or {}))


def _plain(value: Any) -> Any:
    """JSON-safe numbers: non-finite floats become None (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def worst(findings: Iterable[Finding]) -> str:
    """The most severe status among the findings ("pass" when there are none)."""
    rank = {s: i for i, s in enumerate(STATUSES)}
    return max((f.status for f in findings), key=rank.__getitem__, default="pass")


def exit_code(findings: Iterable[Finding]) -> int:
    """1 if any finding failed, else 0 (warnings do not fail a run)."""
    return 1 if worst(findings) == "fail" else 0


def problems(findings: Iterable[Finding]) -> list[Finding]:
    """The findings that are not "pass"."""
    return [f for f in findings if f.status != "pass"]
