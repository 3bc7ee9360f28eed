"""Search spaces: one distribution per hyperparameter (a dotted recipe key).

A space is a TOML table (``[search.space]`` in a recipe, or a file of its own with that table or
a bare ``[space]`` table):

    [search.space]
    "optim.lr"           = {dist = "loguniform", low = 1e-4, high = 1e-1}
    "optim.weight_decay" = {dist = "loguniform", low = 1e-6, high = 1e-2}
    "model.dropout"      = {dist = "uniform", low = 0.0, high = 0.5}
    "model.widths"       = {dist = "choice", values = [[100, 100], [200, 200]]}
    "train.batch_size"   = {dist = "int", low = 32, high = 256, log = true}

Why log scale (the lectures; Bergstra & Bengio 2012): learning rate and regularization strength act
multiplicatively — 1e-4 → 1e-3 matters as much as 1e-2 → 1e-1 — so they are sampled uniformly in
``log10(value)``: ``x = exp(u)``, ``u ~ U(log low, log high)``. A uniform draw on [1e-4, 1e-1]
would put 90% of the trials in [1e-2, 1e-1].

Each `Dim` knows its transformed coordinate (``to_unit``: log for log-scaled dims) which grids and
the coarse→fine narrowing work in, and converts itself to an Optuna distribution.

Example:
    >>> space = parse_space({"optim.lr": {"dist": "loguniform", "low": 1e-4, "high": 1e-1}})
    >>> [round(v, 6) for v in space[0].grid(4)]
    [0.0001, 0.001, 0.01, 0.1]
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from trainwell.config import Recipe
from trainwell.errors import UserError, did_you_mean

DISTS = ("loguniform", "uniform", "int", "choice")


@dataclass(frozen=True)
class Dim:
    """One hyperparameter: `name` is a dotted recipe key (``optim.lr``).

    dist: "loguniform" (low > 0), "uniform", "int" (inclusive bounds; ``log=True`` for a
    log-scaled integer), or "choice" (`values`, any TOML values).
    """

    name: str
    dist: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    values: tuple = ()

    @property
    def numeric(self) -> bool:
        return self.dist != "choice"

    def to_unit(self, value: float) -> float:
        """The coordinate grids and narrowing work in: log(value) for log-scaled dims."""
        return math.log(value) if self.log else float(value)

    def from_unit(self, u: float) -> float | int:
        value = math.exp(u) if self.log else u
        if self.dist == "int":
            return int(min(max(round(value), self.low), self.high))
        return float(min(max(value, self.low), self.high))

    def grid(self, points: int) -> list:
        """`points` values evenly spaced in the unit coordinate (log-spaced for log dims), ends included.

        Integers are rounded and de-duplicated; a choice dim's grid is all its values.
        """
        if self.dist == "choice":
            return list(self.values)
        if points < 1:
            raise UserError(f"search: grid points per dimension must be >= 1, got {points}")
        lo, hi = self.to_unit(self.low), self.to_unit(self.high)
        if points == 1:
            out = [self.from_unit(0.5 * (lo + hi))]
        elif self.log:
            out = [self.from_unit(math.log(v)) if self.dist == "int" else float(v) for v in np.geomspace(self.low, self.high, points)]
        else:
            out = [self.from_unit(u) for u in np.linspace(lo, hi, points)]
        if self.dist == "int":
            out = sorted(set(out))
        return out

    def distribution(self) -> BaseDistribution:
        """The Optuna distribution of this dim."""
        if self.dist == "choice":
            return CategoricalDistribution([_hashable(v) for v in self.values])
        if self.dist == "int":
            return IntDistribution(int(self.low), int(self.high), log=self.log)
        return FloatDistribution(float(self.low), float(self.high), log=self.log)

    def contains(self, value: Any) -> bool:
        """Whether `value` is a point of this dim (what a trial read back from a storage must be)."""
        if self.dist == "choice":
            return any(_plain(v) == value for v in self.values)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        if self.dist == "int" and not float(value).is_integer():
            return False
        return self.low <= value <= self.high

    def describe(self) -> str:
        if self.dist == "choice":
            return f"{self.name} ∈ {list(self.values)}"
        scale = " (log)" if self.log and self.dist == "int" else ""
        return f"{self.name} ~ {self.dist}{scale}[{self.low:g}, {self.high:g}]"

    def to_dict(self) -> dict[str, Any]:
        if self.dist == "choice":
            return {"dist": "choice", "values": [_plain(v) for v in self.values]}
        out: dict[str, Any] = {"dist": self.dist, "low": self.low, "high": self.high}
        if self.dist == "int" and self.log:
            out["log"] = True
        return out


def _hashable(value: Any) -> Any:
    """Optuna categorical choices must be None/bool/int/float/str: lists become tuples→ strings."""
    if isinstance(value, (list, tuple, dict)):
        import json

        return json.dumps(value)
    return value


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def decode_choice(dim: Dim, value: Any) -> Any:
    """Inverse of `_hashable` for a choice dim's value read back from Optuna."""
    for v in dim.values:
        if _hashable(v) == value:
            return _plain(v)
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UserError(f"{where} must be a finite number, got {value!r}")
    return value


def check_key(name: str, where: str) -> None:
    """A dim's name must be a dotted recipe key whose first part is a recipe section."""
    top = name.split(".")[0]
    if not name or top not in Recipe.model_fields or top == "search":
        valid = [k for k in Recipe.model_fields if k != "search"]
        raise UserError(f"{where}: {name!r} is not a recipe key; it must start with one of {valid}{did_you_mean(top, valid)} "
                        "(e.g. \"optim.lr\")")


def parse_dim(name: str, spec: Any, source: str = "search.space") -> Dim:
    where = f"{source}.{name!r}" if "." in name else f"{source}.{name}"
    check_key(name, where)
    if not isinstance(spec, dict):
        raise UserError(f"{where} must be a table like {{dist = \"loguniform\", low = 1e-4, high = 1e-1}}, got {spec!r}")
    dist = spec.get("dist")
    if dist not in DISTS:
        raise UserError(f"{where}.dist must be one of {list(DISTS)}, got {dist!r}{did_you_mean(str(dist), DISTS)}")
    allowed = {"dist", "values"} if dist == "choice" else {"dist", "low", "high"} | ({"log"} if dist == "int" else set())
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise UserError(f"{where}: unknown key {unknown[0]!r} for dist={dist!r}{did_you_mean(unknown[0], allowed)}; valid keys: {sorted(allowed)}")
    if dist == "choice":
        values = spec.get("values")
        if not isinstance(values, list) or not values:
            raise UserError(f"{where}: dist=\"choice\" needs a non-empty list `values`, got {values!r}")
        return Dim(name, "choice", values=tuple(tuple(v) if isinstance(v, list) else v for v in values))
    for key in ("low", "high"):
        if key not in spec:
            raise UserError(f"{where}: dist={dist!r} needs `low` and `high`")
    low, high = _number(spec["low"], f"{where}.low"), _number(spec["high"], f"{where}.high")
    if not low < high:
        raise UserError(f"{where}: needs low < high, got low={low} high={high}")
    log = dist == "loguniform" or bool(spec.get("log", False))
    if log and low <= 0:
        raise UserError(f"{where}: a log scale needs low > 0, got low={low}")
    if dist == "int":
        if not (float(low).is_integer() and float(high).is_integer()):
            raise UserError(f"{where}: dist=\"int\" needs integer bounds, got low={low} high={high}")
        return Dim(name, "int", int(low), int(high), log=log)
    return Dim(name, dist, float(low), float(high), log=log)


def parse_space(table: Any, source: str = "search.space") -> list[Dim]:
    """A list of `Dim` from the space table (checked; names sorted for a stable order)."""
    if not isinstance(table, dict) or not table:
        raise UserError(f"{source} must be a non-empty table of hyperparameters, e.g. "
                        "\"optim.lr\" = {dist = \"loguniform\", low = 1e-4, high = 1e-1}; got "
                        f"{table!r}")
    return [parse_dim(name, table[name], source) for name in sorted(table)]


def space_to_dict(space: list[Dim]) -> dict[str, Any]:
    return {d.name: d.to_dict() for d in space}
