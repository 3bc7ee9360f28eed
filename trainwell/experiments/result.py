"""`ExperimentResult`: what an experiment returns — the claim, its source, the table, the verdict,
and the plot records the report layer draws.

Everything in it is plain data (JSON-serialisable): `rows` hold numbers or short strings such as
"92.1 [91.0–93.2]" (median [min–max] over seeds), `plots` hold panels as dicts (see
`trainwell.experiments.figures`), `details` the raw per-seed measurements.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ExperimentResult:
    """A claim, the table of numbers behind it, and the verdict.

    `passed` is True/False when the experiment checks a claim with a stated criterion
    (`tolerance`), None when it only reports numbers. `notes` says how to read the numbers — in
    particular why a claim does not hold on these small data when it does not. `plots` is a list of
    panels (plain dicts) drawn by `trainwell.report.experiment_plots`.
    """

    name: str
    claim: str
    columns: list[str]
    rows: list[list[Any]]
    verdict: str
    passed: bool | None = None
    details: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    tolerance: str = ""
    setting: str = ""
    notes: str = ""
    budget: str = "full"
    seconds: float = 0.0
    plots: list[dict[str, Any]] = field(default_factory=list)

    @property
    def mark(self) -> str:
        return {True: "HOLDS", False: "DOES NOT HOLD", None: "REPORTED"}[self.passed]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ExperimentResult":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def save(self, path: str | Path) -> Path:
        from trainwell.io import atomic_write_json

        return atomic_write_json(path, self.to_dict())
