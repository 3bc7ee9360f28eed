"""Search plans from the [search] table: stage budgets, grids, errors."""
from __future__ import annotations

import pytest

from trainwell.errors import UserError
from trainwell.search.plan import parse_stages, plan_from_table

SPACE = {"optim.lr": {"dist": "loguniform", "low": 1e-4, "high": 1e-1},
         "optim.weight_decay": {"dist": "loguniform", "low": 1e-6, "high": 1e-2}}


def test_default_coarse_to_fine_has_the_budget_of_random():
    for trials, steps in ((32, 2000), (8, 400), (10, 1000)):
        c2f = plan_from_table({"strategy": "coarse-to-fine", "trials": trials, "steps": steps, "space": SPACE})
        rnd = plan_from_table({"strategy": "random", "trials": trials, "steps": steps, "space": SPACE})
        assert c2f.total_steps() == rnd.total_steps() == trials * steps
        assert c2f.stages[0].steps < c2f.stages[1].steps and c2f.stages[0].trials > c2f.stages[1].trials


def test_grid_size_and_explicit_stages():
    assert plan_from_table({"strategy": "grid", "trials": 20, "steps": 5, "space": SPACE}).stage_trials(0) == 16
    plan = plan_from_table({"strategy": "coarse-to-fine", "stages": parse_stages("10x50,3x200"), "space": SPACE})
    assert [(s.trials, s.steps) for s in plan.stages] == [(10, 50), (3, 200)]


def test_errors():
    with pytest.raises(UserError, match="no search space"):
        plan_from_table({"trials": 3})
    with pytest.raises(UserError, match="unknown key 'trails'.*did you mean \"trials\""):
        plan_from_table({"trails": 3, "space": SPACE})
    with pytest.raises(UserError, match="strategy must be one of"):
        plan_from_table({"strategy": "bayes", "space": SPACE})
    with pytest.raises(UserError, match="TRIALSxSTEPS"):
        parse_stages("10-50")
    with pytest.raises(UserError, match="stages is for strategy"):
        plan_from_table({"strategy": "random", "stages": [{"trials": 1, "steps": 1}], "space": SPACE})
