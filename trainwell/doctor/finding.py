"""A doctor's finding: what is wrong (a code), how sure and how bad, the evidence, where, and what to do.

    Finding(code="lr_too_high", severity="fail", message="the loss diverged at step 40 ...",
            evidence={"lr": 0.1, "suggestion": 0.004}, where=None,
            prescription=Prescription("lower the learning rate", edits={"optim.lr": 0.0013},
                                      code="torch.optim.Adam(model.parameters(), lr=0.0013)",
                                      direction={"optim.lr": "down"}))

`severity` is "pass", "info" (a fact worth knowing, not a fault), "warn" or "fail". `where` names
the module or parameter (as in `model.named_modules()` / `named_parameters()`) or is None.
`evidence` holds the measurements and the thresholds they were compared with. A prescription is
the exact recipe edit (`edits`, applied by `--fix` and printed as `--set key=value`) and/or the
code change for a Python setup (`code`); `direction` says which way it moves each key ("up",
"down", "off", "set"), so the causal ordering can refuse two opposite prescriptions.
`explained_by` is set by `trainwell.doctor.causes.arrange` when another finding explains this one.

The old names (`check`, `status`, `layer`, `numbers`) are kept as read-only aliases.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("pass", "info", "warn", "fail")
RANK = {s: i for i, s in enumerate(SEVERITIES)}


def toml_value(value: Any) -> str:
    """A value as `--set` takes it (TOML syntax): 0.0003, "balanced", [64, 64], true."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:.3g}" if value != 0 else "0.0"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    return str(value)


@dataclass
class Prescription:
    """What to do: a sentence, the recipe edits, the code change, the direction of each edit."""

    text: str
    edits: dict[str, Any] = field(default_factory=dict)
    code: str = ""
    direction: dict[str, str] = field(default_factory=dict)

    def set_args(self) -> str:
        """The recipe edits as command-line overrides: `--set optim.lr=0.0003 --set ...`."""
        return " ".join(f"--set {k}={toml_value(v)}" for k, v in self.edits.items())

    def render(self, kind: str = "recipe") -> str:
        """The prescription for a recipe (`--set ...`) or a Python setup (the code change)."""
        if kind == "recipe" and self.edits:
            return f"{self.text}: {self.set_args()}"
        if self.code:
            return f"{self.text}: {self.code}"
        return self.text

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "edits": _plain(self.edits), "set": self.set_args(), "code": self.code,
                "direction": dict(self.direction)}

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> "Prescription":
        return cls(record["text"], dict(record.get("edits") or {}), record.get("code", ""),
                   dict(record.get("direction") or {}))


@dataclass
class Finding:
    """One checklist entry (see the module docstring)."""

    code: str
    severity: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    where: str | None = None
    prescription: Prescription | None = None
    explained_by: str | None = None
    stage: str = ""

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"Finding.severity must be one of {SEVERITIES}, found {self.severity!r}")

    # the old names -------------------------------------------------------
    @property
    def check(self) -> str:
        return self.code

    @property
    def status(self) -> str:
        return self.severity

    @property
    def layer(self) -> str | None:
        return self.where

    @property
    def numbers(self) -> dict[str, Any]:
        return self.evidence

    @property
    def problem(self) -> bool:
        """A warning or a failure."""
        return self.severity in ("warn", "fail")

    def advice(self, kind: str = "recipe") -> str:
        return self.prescription.render(kind) if self.prescription is not None else ""

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "where": self.where, "message": self.message,
                "evidence": _plain(self.evidence),
                "prescription": self.prescription.to_json() if self.prescription is not None else None,
                "explained_by": self.explained_by, "stage": self.stage}

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> "Finding":
        p = record.get("prescription")
        return cls(record["code"], record["severity"], record["message"], dict(record.get("evidence") or {}),
                   record.get("where"), Prescription.from_json(p) if p else None, record.get("explained_by"),
                   record.get("stage", ""))


def passed(code: str, message: str, evidence: dict[str, Any] | None = None, where: str | None = None) -> Finding:
    return Finding(code, "pass", message, evidence or {}, where)


def worst(findings: list[Finding]) -> str:
    """The most severe severity among the findings ("pass" when there are none)."""
    return max((f.severity for f in findings), key=RANK.__getitem__, default="pass")


def exit_code(findings: list[Finding]) -> int:
    """1 if any finding failed, else 0 (warnings do not fail a run)."""
    return 1 if worst(findings) == "fail" else 0


def _plain(value: Any) -> Any:
    """JSON-safe: non-finite floats become None; tuples become lists; tensors become numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "item") and hasattr(value, "numel") and value.numel() == 1:
        return _plain(value.item())
    return value


__all__ = ["Finding", "Prescription", "SEVERITIES", "exit_code", "passed", "toml_value", "worst"]
