"""What a search runs: the strategy, its stages (trials × steps), and the space.

From the recipe's ``[search]`` table (every key optional except the space), overridden by the
command line:

    [search]
    strategy = "coarse-to-fine"   # "random" (default), "grid", "coarse-to-fine"
    trials = 32                   # random/grid: trials (a grid gets m^d <= trials points)
    steps = 2000                  # train.steps of each trial (default: the recipe's own budget)
    seed = 0                      # sampling seed (the trials' training seed is the recipe's seed)
    stages = [{trials = 64, steps = 500}, {trials = 16, steps = 2000}]   # coarse-to-fine
    top_k = 4                     # best trials of a stage that the next one narrows around
    margin = 0.25                 # narrowing: pad of the top-k span (fraction of it) ...
    min_width = 0.2               # ... and least width of the new range (fraction of the full one)
    vectorize = "auto"            # "auto", "on", "off"
    [search.space]
    "optim.lr" = {dist = "loguniform", low = 1e-4, high = 1e-1}

Coarse-to-fine without `stages`: two stages with the budget of a random search of `trials` ×
`steps`: stage 1 runs 2·trials short trials of steps/4 (full ranges), stage 2 runs trials/2 trials
of `steps` (2T·S/4 + T/2·S = T·S). The lectures' advice in numbers: many cheap runs to find the
region, few long runs inside it.

Example:
    >>> plan = plan_from_table({"strategy": "coarse-to-fine", "trials": 8, "steps": 400,
    ...                         "space": {"optim.lr": {"dist": "loguniform", "low": 1e-4, "high": 1e-1}}})
    >>> [(s.trials, s.steps) for s in plan.stages], plan.total_steps()
    ([(16, 100), (4, 400)], 3200)
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from trainwell.errors import UserError, did_you_mean
from trainwell.search.sampling import STRATEGIES, grid_points_per_dim
from trainwell.search.space import Dim, parse_space, space_to_dict

KEYS = ("strategy", "trials", "steps", "seed", "stages", "top_k", "margin", "min_width", "vectorize", "space")
VECTORIZE = ("auto", "on", "off")


@dataclass(frozen=True)
class Stage:
    trials: int
    steps: int | None  # None: the recipe's own budget


@dataclass
class SearchPlan:
    strategy: str
    space: list[Dim]
    stages: list[Stage]
    seed: int = 0
    top_k: int = 4
    margin: float = 0.25
    min_width: float = 0.2
    vectorize: str = "auto"
    extra: dict[str, Any] = field(default_factory=dict)

    def stage_trials(self, index: int) -> int:
        """Trials of stage `index` (0-based); a grid's size is its number of points."""
        stage = self.stages[index]
        if self.strategy == "grid":
            import math

            m = grid_points_per_dim(self.space, stage.trials)
            return math.prod(len(d.grid(m)) for d in self.space)
        return stage.trials

    def total_steps(self) -> int | None:
        if any(s.steps is None for s in self.stages):
            return None
        return sum(self.stage_trials(i) * s.steps for i, s in enumerate(self.stages))

    def identity(self) -> str:
        """What must not change when a stopped search is resumed (JSON, stored in the study)."""
        return json.dumps({
            "strategy": self.strategy, "space": space_to_dict(self.space),
            "stages": [asdict(s) for s in self.stages], "seed": self.seed, "top_k": self.top_k,
            "margin": self.margin, "min_width": self.min_width,
        }, sort_keys=True)


def _int(value: Any, where: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise UserError(f"{where} must be an integer >= {low}, got {value!r}")
    return value


def _frac(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise UserError(f"{where} must be a number in [0, 1], got {value!r}")
    return float(value)


def parse_stages(text: str) -> list[dict[str, int]]:
    """'64x500,16x2000' (trials × steps per stage) -> [{"trials": 64, "steps": 500}, ...]."""
    out = []
    for part in text.split(","):
        try:
            trials, steps = part.lower().split("x")
            out.append({"trials": int(trials), "steps": int(steps)})
        except ValueError:
            raise UserError(f"--stages expects TRIALSxSTEPS per stage, comma-separated (e.g. 64x500,16x2000), got {text!r}") from None
    return out


def plan_from_table(table: dict[str, Any], source: str = "search") -> SearchPlan:
    """A `SearchPlan` from a ``[search]`` table (see the module docstring)."""
    if not isinstance(table, dict):
        raise UserError(f"{source} must be a table, got {table!r}")
    unknown = [k for k in table if k not in KEYS]
    if unknown:
        raise UserError(f"{source}: unknown key {unknown[0]!r}{did_you_mean(unknown[0], KEYS)}; valid keys: {list(KEYS)}")
    if "space" not in table:
        raise UserError(f"{source}: no search space; add a [search.space] table to the recipe or pass --space FILE")
    space = parse_space(table["space"], f"{source}.space")
    strategy = table.get("strategy", "random")
    if strategy not in STRATEGIES:
        raise UserError(f"{source}.strategy must be one of {list(STRATEGIES)}, got {strategy!r}{did_you_mean(str(strategy), STRATEGIES)}")
    trials = _int(table.get("trials", 20), f"{source}.trials")
    steps = table.get("steps")
    if steps is not None:
        steps = _int(steps, f"{source}.steps")
    vectorize = table.get("vectorize", "auto")
    if vectorize is True or vectorize is False:
        vectorize = "on" if vectorize else "off"
    if vectorize not in VECTORIZE:
        raise UserError(f"{source}.vectorize must be one of {list(VECTORIZE)}, got {vectorize!r}")
    stages_raw = table.get("stages")
    if stages_raw is not None and strategy != "coarse-to-fine":
        raise UserError(f"{source}.stages is for strategy = \"coarse-to-fine\" (got strategy = {strategy!r}); use trials/steps")
    if strategy == "coarse-to-fine":
        if stages_raw is None:
            if steps is None:
                raise UserError(f"{source}: coarse-to-fine needs `steps` (the long trials' budget) or explicit `stages`")
            stages_raw = [{"trials": 2 * trials, "steps": max(steps // 4, 1)}, {"trials": max(trials // 2, 1), "steps": steps}]
        if not isinstance(stages_raw, list) or not stages_raw:
            raise UserError(f"{source}.stages must be a list of tables like {{trials = 64, steps = 500}}, got {stages_raw!r}")
        stages = []
        for i, st in enumerate(stages_raw):
            where = f"{source}.stages[{i}]"
            if not isinstance(st, dict) or set(st) - {"trials", "steps"} or "trials" not in st or "steps" not in st:
                raise UserError(f"{where} must be a table {{trials = N, steps = S}}, got {st!r}")
            stages.append(Stage(_int(st["trials"], f"{where}.trials"), _int(st["steps"], f"{where}.steps")))
    else:
        stages = [Stage(trials, steps)]
    return SearchPlan(
        strategy=strategy, space=space, stages=stages,
        seed=_int(table.get("seed", 0), f"{source}.seed", 0),
        top_k=_int(table.get("top_k", 4), f"{source}.top_k"),
        margin=_frac(table.get("margin", 0.25), f"{source}.margin"),
        min_width=_frac(table.get("min_width", 0.2), f"{source}.min_width"),
        vectorize=vectorize,
    )
