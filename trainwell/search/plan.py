"""What a search runs: the sampler, the pruner, the objective, its stages (trials × steps), the space.

From the recipe's ``[search]`` table (every key optional except the space), overridden by the
command line:

    [search]
    sampler = "tpe"               # "random" (default), "grid", "tpe", "cmaes" (see `samplers`)
    pruner = "median"             # "none" (default), "median", "hyperband" (see `pruning`)
    objective = "accuracy"        # maximize final val accuracy (default), or "val_loss": minimize final val loss
    hopeless = true               # with a pruner: also stop diverged / not learning / at-chance trials
    trials = 32                   # trials of a one-stage search (a grid gets m^d <= trials points)
    steps = 2000                  # train.steps of each trial (default: the recipe's own budget)
    seed = 0                      # sampling seed, 0 <= seed < 2**32 (the trials train with the recipe's seed)
    strategy = "coarse-to-fine"   # two stages derived from trials/steps (below); "random"/"grid" = sampler
    stages = [{trials = 64, steps = 500}, {trials = 16, steps = 2000}]   # explicit coarse-to-fine stages
    top_k = 4                     # best trials of a stage that the next one narrows around
    margin = 0.25                 # narrowing: pad of the top-k span (fraction of it) ...
    min_width = 0.2               # ... and least width of the new range (fraction of the full one)
    vectorize = "auto"            # "auto", "on", "off"
    [search.space]
    "optim.lr" = {dist = "loguniform", low = 1e-4, high = 1e-1}

Coarse-to-fine without `stages`: two stages with the budget of a one-stage search of `trials` ×
`steps`: stage 1 runs 2·trials short trials of steps/4 (full ranges), stage 2 runs trials/2 trials
of `steps` (2T·S/4 + T/2·S = T·S). The lectures' advice in numbers: many cheap runs to find the
region, few long runs inside it. Trials are compared only within a stage (the same budget): stage
2 narrows around stage 1's best, and the search's best is the best of the last stage.

Example:
    >>> plan = plan_from_table({"strategy": "coarse-to-fine", "trials": 8, "steps": 400,
    ...                         "space": {"optim.lr": {"dist": "loguniform", "low": 1e-4, "high": 1e-1}}})
    >>> [(s.trials, s.steps) for s in plan.stages], plan.total_steps(), plan.sampler
    ([(16, 100), (4, 400)], 3200, 'random')
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any

from trainwell.config import MAX_STEPS
from trainwell.errors import UserError, did_you_mean
from trainwell.search.pruning import PRUNERS
from trainwell.search.samplers import SAMPLERS, check_sampler
from trainwell.search.sampling import grid_points_per_dim
from trainwell.search.space import Dim, parse_space, space_to_dict

KEYS = ("strategy", "sampler", "pruner", "objective", "hopeless", "trials", "steps", "seed", "stages", "top_k",
        "margin", "min_width", "vectorize", "space")
STRATEGIES = ("random", "grid", "coarse-to-fine")
OBJECTIVES = ("accuracy", "val_loss")
VECTORIZE = ("auto", "on", "off")
SEED_MAX = 2**32 - 1


@dataclass(frozen=True)
class Stage:
    trials: int
    steps: int | None  # None: the recipe's own budget


@dataclass
class SearchPlan:
    space: list[Dim]
    stages: list[Stage]
    sampler: str = "random"
    pruner: str = "none"
    objective: str = "accuracy"
    hopeless: bool = True
    seed: int = 0
    top_k: int = 4
    margin: float = 0.25
    min_width: float = 0.2
    vectorize: str = "auto"

    @property
    def direction(self) -> str:
        """"maximize" (accuracy) or "minimize" (val_loss)."""
        return "minimize" if self.objective == "val_loss" else "maximize"

    @property
    def strategy(self) -> str:
        """A label: the sampler, and "coarse-to-fine" with several stages ("tpe coarse-to-fine")."""
        return f"{self.sampler} coarse-to-fine" if len(self.stages) > 1 else self.sampler

    def stage_trials(self, index: int, space: list[Dim] | None = None) -> int:
        """Trials of stage `index` (0-based); a grid's size is its number of points (over `space`)."""
        stage = self.stages[index]
        if self.sampler == "grid":
            space = space or self.space
            m = grid_points_per_dim(space, stage.trials)
            return math.prod(len(d.grid(m)) for d in space)
        return stage.trials

    def total_steps(self) -> int | None:
        if any(s.steps is None for s in self.stages):
            return None
        return sum(self.stage_trials(i) * s.steps for i, s in enumerate(self.stages))

    def identity(self) -> str:
        """What must not change when a stopped search is resumed (JSON, stored in the study)."""
        return json.dumps({
            "sampler": self.sampler, "pruner": self.pruner, "objective": self.objective, "hopeless": self.hopeless,
            "space": space_to_dict(self.space), "stages": [asdict(s) for s in self.stages], "seed": self.seed,
            "top_k": self.top_k, "margin": self.margin, "min_width": self.min_width,
        }, sort_keys=True)


# bounds that catch a typo (an extra zero run) before it allocates or loops for years
MAX_TRIALS = 1_000_000


def _int(value: Any, where: str, low: int = 1, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise UserError(f"{where} must be an integer {bound}, got {value!r}")
    return value


def _choice(value: Any, where: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise UserError(f"{where} must be one of {list(choices)}, got {value!r}{did_you_mean(str(value), choices)}")
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
    strategy = _choice(table.get("strategy", "random"), f"{source}.strategy", STRATEGIES)
    sampler = table.get("sampler")
    if strategy in ("random", "grid") and "strategy" in table:
        if sampler is not None and sampler != strategy:
            raise UserError(f"{source}: strategy = {strategy!r} and sampler = {sampler!r} disagree; "
                            "strategy \"random\"/\"grid\" is the old name of the sampler: set only sampler")
        sampler = strategy
    sampler = _choice(sampler or "random", f"{source}.sampler", SAMPLERS)
    check_sampler(sampler, space, f"{source}.sampler")
    pruner = _choice(table.get("pruner", "none"), f"{source}.pruner", PRUNERS)
    objective = _choice(table.get("objective", "accuracy"), f"{source}.objective", OBJECTIVES)
    hopeless = table.get("hopeless", True)
    if not isinstance(hopeless, bool):
        raise UserError(f"{source}.hopeless must be true or false, got {hopeless!r}")
    trials = _int(table.get("trials", 20), f"{source}.trials", 1, MAX_TRIALS)
    steps = table.get("steps")
    if steps is not None:
        steps = _int(steps, f"{source}.steps", 1, MAX_STEPS)
    vectorize = table.get("vectorize", "auto")
    if vectorize is True or vectorize is False:
        vectorize = "on" if vectorize else "off"
    if vectorize not in VECTORIZE:
        raise UserError(f"{source}.vectorize must be one of {list(VECTORIZE)}, got {vectorize!r}")
    stages_raw = table.get("stages")
    if stages_raw is not None and "strategy" not in table:
        strategy = "coarse-to-fine"
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
            stages.append(Stage(_int(st["trials"], f"{where}.trials", 1, MAX_TRIALS),
                                _int(st["steps"], f"{where}.steps", 1, MAX_STEPS)))
        if any(st.steps > stages[-1].steps for st in stages[:-1]):
            raise UserError(f"{source}.stages: the last stage must have the longest trials (its best is the search's "
                            f"best, trained with that budget), got steps {[st.steps for st in stages]}")
    else:
        stages = [Stage(trials, steps)]
    return SearchPlan(
        space=space, stages=stages, sampler=sampler, pruner=pruner, objective=objective, hopeless=hopeless,
        seed=_int(table.get("seed", 0), f"{source}.seed", 0, SEED_MAX),
        top_k=_int(table.get("top_k", 4), f"{source}.top_k"),
        margin=_frac(table.get("margin", 0.25), f"{source}.margin"),
        min_width=_frac(table.get("min_width", 0.2), f"{source}.min_width"),
        vectorize=vectorize,
    )
