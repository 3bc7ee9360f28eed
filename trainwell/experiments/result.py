"""`ExperimentResult`: the table an experiment returns, with the claim and whether it held."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ExperimentResult:
    """A claim, the table of numbers behind it, and the verdict.

    `passed` is True/False when the experiment checks a claim with a stated criterion, None when it
    only reports numbers.
    """

    name: str
    claim: str
    columns: list[str]
    rows: list[list[Any]]
    verdict: str
    passed: bool | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: str | Path) -> Path:
        from trainwell.io import atomic_write_json

        return atomic_write_json(path, self.to_dict())
