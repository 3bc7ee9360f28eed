"""How much compute an experiment spends: "smoke" (tests, seconds), "quick" (`--quick`, well under a
minute on 2 cores, same verdict as the full run), "full" (the numbers of the README, 3–5 seeds).

    >>> b = Budget.of("quick")
    >>> b.pick(smoke=40, quick=300, full=1000)
    300

Each experiment chooses its own steps, seeds and grid sizes per budget with `pick`; the budget
itself only names the level. A smoke run checks that the experiment runs end to end and returns a
well-formed result — its verdict means nothing (too few steps to show anything).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from trainwell.errors import UserError

BUDGETS = ("smoke", "quick", "full")
T = TypeVar("T")


@dataclass(frozen=True)
class Budget:
    name: str

    def __post_init__(self) -> None:
        if self.name not in BUDGETS:
            raise UserError(f"experiment budget must be one of {', '.join(BUDGETS)}, got {self.name!r}")

    @classmethod
    def of(cls, value: "str | Budget | bool | None") -> "Budget":
        """A Budget from a name, a Budget, or the old `quick` flag (True → quick, False → full)."""
        if isinstance(value, Budget):
            return value
        if isinstance(value, bool) or value is None:
            return cls("quick" if value else "full")
        return cls(str(value))

    def pick(self, *, smoke: T, quick: T, full: T) -> T:
        return {"smoke": smoke, "quick": quick, "full": full}[self.name]

    @property
    def smoke(self) -> bool:
        return self.name == "smoke"

    def __str__(self) -> str:
        return self.name


def describe(values: dict[str, Any]) -> str:
    """'steps 300, seeds 2' from {"steps": 300, "seeds": 2} (for a result's `setting`)."""
    return ", ".join(f"{k} {v}" for k, v in values.items())
