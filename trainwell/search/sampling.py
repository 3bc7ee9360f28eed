"""Grids, the coarse→fine narrowing, and `sample_points` (a stage's points drawn at once).

`sample_points(space, trials, strategy, seed)` draws the points of a random or grid search at
once, as a pure function of its arguments, with Optuna's samplers on a throw-away in-memory study
(``RandomSampler(seed)``, ``GridSampler(grid, seed)``) — what the random-vs-grid experiment
compares. A search itself asks its study for one trial at a time (see `samplers`, `worker`).

Grid: ``m`` points per numeric dimension (log-spaced for log-scaled dims, ends included), all
values of a choice dim; ``m = floor(trials ** (1 / d))`` over the d numeric dims so the grid has
at most `trials` points (Bergstra & Bengio 2012 compare the two at the same budget: with 16
trials in 2-D a grid tries only 4 values of each hyperparameter, random search 16).

Narrowing (coarse → fine), per numeric dim, in the unit coordinate u (log for log-scaled dims):
let [a, b] be the range of u over the top-k trials of the previous stage; the new range is
[a − pad, b + pad] with ``pad = margin · (b − a)``, widened symmetrically to at least
``min_width · (U − L)`` of the original range [L, U], then moved inside [L, U] (keeping its
width where possible). A choice dim keeps the values that occur among the top-k.

Example:
    >>> from trainwell.search.space import parse_space
    >>> lr = parse_space({"optim.lr": {"dist": "loguniform", "low": 1e-4, "high": 1e-0}})[0]
    >>> d = narrow_dim(lr, [1e-3, 1e-2], margin=0.0, min_width=0.0)
    >>> round(d.low, 6), round(d.high, 6)
    (0.001, 0.01)
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, IntDistribution

from trainwell.errors import UserError
from trainwell.search.space import Dim, decode_choice

def grid_points_per_dim(space: list[Dim], trials: int) -> int:
    """m with m ** d_numeric * prod(len(choices)) <= trials (at least 1)."""
    choices = math.prod(len(d.values) for d in space if not d.numeric)
    d = sum(d.numeric for d in space)
    if d == 0:
        return 1
    budget = max(trials // choices, 1)
    m = max(int(math.floor(budget ** (1.0 / d) + 1e-9)), 1)
    return m


def grid_of(space: list[Dim], trials: int) -> dict[str, list]:
    m = grid_points_per_dim(space, trials)
    return {d.name: d.grid(m) for d in space}


def _decode(space: list[Dim], params: dict[str, Any]) -> dict[str, Any]:
    by = {d.name: d for d in space}
    return {k: decode_choice(by[k], v) if not by[k].numeric else v for k, v in params.items()}


def sample_points(space: list[Dim], trials: int, strategy: str, seed: int) -> list[dict[str, Any]]:
    """The parameter dicts of a stage (a grid has prod(points) <= trials of them)."""
    if strategy not in ("random", "grid"):
        raise UserError(f"sample_points: strategy must be 'random' or 'grid', got {strategy!r}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists = {d.name: d.distribution() for d in space}
    if strategy == "grid":
        grid = {d.name: encoded_grid(d, trials, space) for d in space}
        n = math.prod(len(v) for v in grid.values())
        sampler: optuna.samplers.BaseSampler = optuna.samplers.GridSampler(grid, seed=seed)
    else:
        n = trials
        sampler = optuna.samplers.RandomSampler(seed=seed)
    study = optuna.create_study(sampler=sampler, direction="maximize")
    out: list[dict[str, Any]] = []

    def record(trial: optuna.Trial) -> float:
        out.append(_decode(space, {name: suggest(trial, name, dist) for name, dist in dists.items()}))
        return 0.0

    study.optimize(record, n_trials=n)
    return out


def suggest(trial: optuna.Trial, name: str, dist: BaseDistribution) -> Any:
    """`trial.suggest_*` for an Optuna distribution (an enqueued trial gets its fixed value back)."""
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, log=dist.log)
    return trial.suggest_float(name, dist.low, dist.high, log=dist.log)


def encoded_grid(dim: Dim, trials: int, space: list[Dim]) -> list:
    values = dim.grid(grid_points_per_dim(space, trials))
    if dim.numeric:
        return values
    return [dim.distribution().choices[dim.values.index(tuple(v) if isinstance(v, list) else v)] for v in values]


def narrow_dim(dim: Dim, top_values: list, margin: float = 0.25, min_width: float = 0.2) -> Dim:
    """The dim's range narrowed around the values of the top-k trials (see the module docstring)."""
    if not top_values:
        return dim
    if not dim.numeric:
        keep = [v for v in dim.values if any(_same(v, t) for t in top_values)]
        return replace(dim, values=tuple(keep) or dim.values)
    lo_full, hi_full = dim.to_unit(dim.low), dim.to_unit(dim.high)
    us = [dim.to_unit(v) for v in top_values]
    a, b = min(us), max(us)
    pad = margin * (b - a)
    a, b = a - pad, b + pad
    need = min_width * (hi_full - lo_full)
    if b - a < need:
        mid = 0.5 * (a + b)
        a, b = mid - need / 2, mid + need / 2
    width = min(b - a, hi_full - lo_full)
    if a < lo_full:
        a, b = lo_full, lo_full + width
    if b > hi_full:
        a, b = hi_full - width, hi_full
    low, high = dim.from_unit(a), dim.from_unit(b)
    if dim.dist == "int":
        low, high = int(math.ceil(math.exp(a) - 1e-9 if dim.log else a - 1e-9)), int(math.floor(math.exp(b) + 1e-9 if dim.log else b + 1e-9))
        low, high = max(low, int(dim.low)), min(high, int(dim.high))
        if low >= high:
            centre = min(max(round(sum(top_values) / len(top_values)), int(dim.low)), int(dim.high))
            low, high = max(centre - 1, int(dim.low)), min(centre + 1, int(dim.high))
    elif not low < high:
        return dim
    return replace(dim, low=low, high=high)


def _same(a: Any, b: Any) -> bool:
    norm = (lambda v: list(v) if isinstance(v, tuple) else v)
    return norm(a) == norm(b)


def narrow_space(space: list[Dim], top: list[dict[str, Any]], margin: float = 0.25, min_width: float = 0.2) -> list[Dim]:
    """Every dim narrowed around the parameter dicts `top` (the best trials of the last stage)."""
    return [narrow_dim(d, [t[d.name] for t in top if d.name in t], margin, min_width) for d in space]
