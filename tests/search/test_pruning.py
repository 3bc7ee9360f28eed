"""Pruning: the hopeless verdicts (hand tables), the Trainer callback, Optuna's median/Hyperband pruners."""
from __future__ import annotations

import copy
import json
import math

import optuna
import pytest

from trainwell.search import RecipeObjective, TrialSpec, hopeless, plan_from_table, run_search
from trainwell.search.prune_callback import TrialPruning
from trainwell.search.pruning import make_pruner
from trainwell.search.records import compute_summary, study_records
from trainwell.search.worker import Stage, run_stage
from trainwell.search.synthetic import SyntheticObjective

SPACE = {"optim.lr": {"dist": "loguniform", "low": 1e-4, "high": 1e-1},
         "optim.weight_decay": {"dist": "loguniform", "low": 1e-6, "high": 1e-2}}


def train(losses, every=20):
    return [{"split": "train", "step": every * (i + 1), "loss": v} for i, v in enumerate(losses)]


def val(step, acc):
    return {"split": "val", "step": step, "accuracy": acc}


def test_hopeless_hand_table():
    # diverged: any non-finite training loss, whenever it happens
    assert hopeless(train([2.3, float("nan")]), 1000).startswith("diverged")
    assert hopeless(train([2.3, float("inf")]), 1000).startswith("diverged")
    # not learning: judged from 25% of the budget on, against 97% of the first window
    flat = train([2.30, 2.29, 2.28, 2.27, 2.26])  # last 2.26 > 0.97 * 2.30 = 2.231
    assert hopeless(flat, 400) is not None and hopeless(flat, 400).startswith("not learning")  # step 100 = 25%
    assert hopeless(flat, 401) is None  # step 100 < 25% of 401
    assert hopeless(train([2.30, 2.25, 2.22]), 240) is None  # 2.22 < 2.231: learning
    # at chance: p = 0.1, n = 400: sigma = 0.015, bound = 0.1 + 3 * 0.015 = 0.145, from 50% of the budget on
    learning = train([2.3, 1.0])
    assert hopeless(learning + [val(50, 0.144)], 100, chance=0.1, n_val=400).startswith("at chance")
    assert hopeless(learning + [val(50, 0.146)], 100, chance=0.1, n_val=400) is None
    assert hopeless(learning + [val(40, 0.100)], 100, chance=0.1, n_val=400) is None  # before 50%
    assert hopeless(learning + [val(50, 0.100)], 100) is None  # no chance rate given: no test
    bound = 0.1 + 3 * math.sqrt(0.1 * 0.9 / 400)
    assert bound == pytest.approx(0.145)


def in_memory(p, objective):
    """Run a one-stage plan on an in-memory study (the worker loop without file I/O); its records."""
    study = optuna.create_study(direction=p.direction, pruner=make_pruner(p.pruner, p.stages[0].steps))
    run_stage(Stage(study, None, 1, p.space, p.stage_trials(0), p.stages[0].steps, p.sampler, p.pruner, p.hopeless,
                    p.objective, p.seed), objective)
    return study_records(study, 1)


def _spec(params, steps, pruning, number=0):
    return TrialSpec(number, 1, params, steps, pruning=pruning)


def test_callback_stops_a_trial_that_does_not_learn_and_one_that_diverges(tiny_raw):
    raw = copy.deepcopy(tiny_raw)
    raw["optim"] = {"name": "sgd", "lr": 1e-2}
    obj = RecipeObjective(raw)
    slow = TrialPruning(trial=None, hopeless=hopeless)
    out = obj(_spec({"optim.lr": 1e-7}, 200, slow))  # SGD at lr 1e-7: the loss does not move
    assert out["pruned"].startswith("hopeless (not learning") and 50 <= out["steps_run"] < 200
    assert out["steps_budget"] == 200
    fine = TrialPruning(trial=None, hopeless=hopeless)
    assert "pruned" not in obj(_spec({"optim.lr": 0.5}, 200, fine)) and fine.verdict is None
    wild = TrialPruning(trial=None, hopeless=hopeless)
    out = obj(_spec({"optim.lr": 1e6}, 200, wild))  # diverges: pruned (hopeless), not a failure
    assert out["pruned"].startswith("hopeless (diverged") and out["steps_run"] < 200


@pytest.mark.parametrize("pruner", ["median", "hyperband"])
def test_pruners_save_compute_at_the_same_best(pruner):
    """Synthetic curves (every trial learns at the same pace): a trial behind at step t ends behind, so
    a pruner never stops the eventual best; it stops others early and saves steps."""
    table = {"sampler": "random", "trials": 40, "steps": 90, "space": SPACE, "seed": 3}
    full = in_memory(plan_from_table(table), SyntheticObjective(function="bowl"))
    pruned = in_memory(plan_from_table({**table, "pruner": pruner}), SyntheticObjective(function="bowl", curve=True, evals=9))
    best = lambda rs: max((r for r in rs if r["state"] == "COMPLETE"), key=lambda r: r["value"])  # noqa: E731
    assert best(pruned)["value"] == best(full)["value"] and best(pruned)["params"] == best(full)["params"]
    c = compute_summary(pruned)
    assert c["pruned"] >= 10 and c["steps_budgeted"] == 40 * 90 and c["saved"] > 0.2, c
    for r in pruned:
        if r["state"] == "PRUNED":
            assert r["steps_run"] < 90 and r["pruned"].startswith(f"pruned by the {pruner} pruner")
    assert compute_summary(full)["saved"] == 0 and compute_summary(full)["pruned"] == 0


def test_median_pruner_on_real_trainer_trials(tiny_raw, tmp_path):
    """Trainer trials report each evaluation; a pruned trial is PRUNED with the steps it ran (its
    metrics stop there) and its reported curve is in the study."""
    raw = copy.deepcopy(tiny_raw)
    raw["train"]["eval_every"] = 10
    raw["search"] = {"trials": 10, "steps": 60, "pruner": "median", "seed": 1, "hopeless": False,
                     "space": {"optim.lr": {"dist": "loguniform", "low": 1e-5, "high": 1e-1}}}
    obj = RecipeObjective(raw)
    plan = plan_from_table(raw["search"])
    assert "pruner 'median'" in obj.vectorize_problem(["optim.lr"], 60, "median")
    result = run_search(plan, obj, search_dir=tmp_path)
    pruned = [r for r in result.records if r["state"] == "PRUNED"]
    assert pruned and len(result.records) == 10
    for r in pruned:
        assert r["steps_run"] < 60 and r["steps_budget"] == 60
        metrics = [json.loads(line) for line in (tmp_path / "trials" / f"stage1-{r['number']:04d}" / "metrics.jsonl").read_text().splitlines()]
        assert max(m["step"] for m in metrics) == r["steps_run"]
    from trainwell.search.storage import default_storage, open_storage

    study = optuna.load_study(study_name="search", storage=open_storage(default_storage(tmp_path)))
    curves = {t.number: t.intermediate_values for t in study.get_trials()}
    assert all(sorted(curves[r["number"]]) == list(range(10, r["steps_run"] + 1, 10)) for r in pruned)
    assert result.best["state"] == "COMPLETE"
