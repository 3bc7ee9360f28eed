"""Workers on Optuna's ask/tell: shared studies, failures, a killed worker's trial retried, resuming, stages."""
from __future__ import annotations

import collections
import math
import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from trainwell.errors import UserError
from trainwell.search import plan_from_table, run_search
from trainwell.search.storage import default_storage, open_storage
from trainwell.search.synthetic import SyntheticObjective
from trainwell.search.pruning import make_pruner
from trainwell.search.worker import Stage, counted, is_surplus, run_stage

SPACE = {"optim.lr": {"dist": "loguniform", "low": 1e-4, "high": 1e-1},
         "optim.weight_decay": {"dist": "loguniform", "low": 1e-6, "high": 1e-2}}


def plan(trials=10, **kw):
    return plan_from_table({"trials": trials, "steps": 10, "space": SPACE, **kw})


def params_key(r):
    return (round(r["params"]["optim.lr"], 15), round(r["params"]["optim.weight_decay"], 15))


def in_memory(p, stage=1, space=None, direction="maximize"):
    """A `Stage` on an in-memory study (no heartbeat): the worker loop without file I/O."""
    space = space or p.space
    study = optuna.create_study(direction=direction, pruner=make_pruner(p.pruner, p.stages[stage - 1].steps))
    return Stage(study, None, stage, space, p.stage_trials(stage - 1, space), p.stages[stage - 1].steps, p.sampler,
                 p.pruner, p.hopeless, p.objective, p.seed)


def test_two_worker_processes_share_a_grid_without_loss_or_duplicates(tmp_path):
    p = plan(trials=9, sampler="grid")
    result = run_search(p, SyntheticObjective(sleep=0.15), search_dir=tmp_path, workers=2)
    assert len(result.records) == 9 and all(r["state"] == "COMPLETE" for r in result.records)
    assert sorted(r["number"] for r in result.records) == list(range(9))
    assert len({params_key(r) for r in result.records}) == 9
    assert sorted({round(math.log10(r["params"]["optim.lr"]), 9) for r in result.records}) == [-4, -2.5, -1]
    pids = collections.Counter(r["pid"] for r in result.records)
    assert len(pids) == 2 and os.getpid() not in pids, pids  # both spawned workers ran trials
    # trial n is grid point n whichever worker runs it: one worker gives the same table
    single = run_search(p, SyntheticObjective(), search_dir=tmp_path / "one", workers=1)
    assert sorted((r["number"], r["value"]) for r in single.records) == sorted((r["number"], r["value"]) for r in result.records)


def test_random_points_do_not_depend_on_which_worker_asks():
    """Each trial's sampler is seeded by (seed, stage, number): two workers taking turns on one study
    propose the same points, trial by trial, as one worker alone."""
    p = plan(trials=9, seed=4)
    alone = in_memory(p)
    run_stage(alone, SyntheticObjective())
    shared = in_memory(p)
    other = Stage(**{**shared.__dict__})
    while run_stage(shared, SyntheticObjective(), max_trials=2) + run_stage(other, SyntheticObjective(), max_trials=1):
        pass
    table = lambda st: [(t.number, t.params) for t in st.study.get_trials()]  # noqa: E731
    assert table(shared) == table(alone) and len(table(alone)) == 9


def test_failures_are_recorded_and_do_not_stop_the_study(tmp_path):
    result = run_search(plan(trials=12), SyntheticObjective(fail_above_lr=0.03, nan_above_lr=0.01), search_dir=tmp_path)
    assert len(result.records) == 12
    for r in result.records:
        lr = r["params"]["optim.lr"]
        if lr > 0.03:
            assert r["state"] == "FAIL" and "RuntimeError: synthetic crash" in r["error"]
        elif lr > 0.01:
            assert r["state"] == "FAIL" and "not a finite number" in r["error"]
        else:
            assert r["state"] == "COMPLETE" and r["value"] == pytest.approx(0.9 * math.exp(
                -((math.log10(lr) + 2.37) ** 2) / (2 * 0.15**2)))
    assert {r["state"] for r in result.records} == {"FAIL", "COMPLETE"}


def _trial(number_state, params=None, system_attrs=None, user_attrs=None):
    return create_trial(state=number_state, params=params or {"x": 0.5}, distributions={"x": FloatDistribution(0, 1)},
                        value=0.0 if number_state == TrialState.COMPLETE else None,
                        system_attrs=system_attrs or {}, user_attrs=user_attrs or {})


def test_counted_places_hand_table():
    """Budget 3: trials 0 (COMPLETE), 1 (FAIL, retried by 3), 2 (RUNNING), 3 (WAITING retry of 1), 4 (fresh)."""
    study = optuna.create_study()
    study.add_trial(_trial(TrialState.COMPLETE))
    study.add_trial(_trial(TrialState.FAIL))
    study.add_trial(_trial(TrialState.RUNNING))
    study.add_trial(_trial(TrialState.WAITING, system_attrs={"failed_trial": 1, "retry_history": [1]}))
    study.add_trial(_trial(TrialState.RUNNING))
    study.add_trial(_trial(TrialState.FAIL, user_attrs={"surplus": True}))
    trials = study.get_trials(deepcopy=False)
    assert [t.number for t in counted(trials)] == [0, 2, 3, 4]
    assert [is_surplus(n, trials, 3) for n in (0, 2, 3, 4)] == [False, False, False, True]  # the retry keeps its place
    assert not is_surplus(4, trials, 4)


SCRIPT = """
import sys
from trainwell.search import plan_from_table, run_search
from trainwell.search.synthetic import SyntheticObjective
if __name__ == "__main__":
    plan = plan_from_table({"trials": 10, "steps": 10, "space": %r})
    run_search(plan, SyntheticObjective(sleep=0.4), search_dir=sys.argv[1], heartbeat_interval=1, grace_period=2)
"""


def _completed(path):
    try:
        study = optuna.load_study(study_name="search", storage=open_storage(default_storage(path), 1, 2))
    except (KeyError, UserError):
        return 0
    return sum(t.state.name == "COMPLETE" for t in study.get_trials(deepcopy=False))


def test_killed_worker_trial_is_retried_and_the_search_resumes(tmp_path):
    """SIGKILL mid-trial: its RUNNING trial loses its heartbeat, `fail_stale_trials` fails it after the grace
    period and Optuna's retry callback re-queues its parameters; the same command then finishes the search
    with every configuration run to completion exactly once and the finished trials kept."""
    script = tmp_path / "run.py"
    script.write_text(SCRIPT % (SPACE,))
    out = tmp_path / "s"
    proc = subprocess.Popen([sys.executable, str(script), str(out)])
    try:
        deadline = time.time() + 90
        while time.time() < deadline and _completed(out) < 3:
            time.sleep(0.2)
        assert _completed(out) >= 3, "the search did not start in time"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    study = optuna.load_study(study_name="search", storage=open_storage(default_storage(out), 1, 2))
    before = {t.number: t.value for t in study.get_trials() if t.state.name == "COMPLETE"}
    running = [t for t in study.get_trials() if t.state.name == "RUNNING"]
    assert 3 <= len(before) < 10 and len(running) == 1

    result = run_search(plan(), SyntheticObjective(), search_dir=out, heartbeat_interval=1, grace_period=2)
    done = [r for r in result.records if r["state"] == "COMPLETE"]
    assert len(done) == 10 and len({params_key(r) for r in done}) == 10  # none lost, none twice
    assert {r["number"]: r["value"] for r in done if r["number"] in before} == before  # kept, not rerun
    killed = next(r for r in result.records if r["number"] == running[0].number)
    assert killed["state"] == "FAIL" and killed["retried"]
    retry = [r for r in done if params_key(r) == params_key(killed)]
    assert len(retry) == 1 and retry[0]["number"] > killed["number"] and retry[0]["pid"] == os.getpid()
    assert len([r for r in result.records if r.get("pid") == os.getpid()]) == 10 - len(before)


def test_resuming_with_another_plan_is_refused(tmp_path):
    run_search(plan(trials=3), SyntheticObjective(), search_dir=tmp_path)
    with pytest.raises(UserError, match="another search plan"):
        run_search(plan(trials=4), SyntheticObjective(), search_dir=tmp_path)
    with pytest.raises(UserError, match="another search plan"):
        run_search(plan(trials=3, sampler="tpe"), SyntheticObjective(), search_dir=tmp_path)
    again = run_search(plan(trials=3), SyntheticObjective(sleep=5), search_dir=tmp_path)  # done: nothing reruns
    assert len(again.records) == 3 and again.seconds < 4


def test_coarse_to_fine_stage_two_lies_around_the_top_k_and_the_best_comes_from_it(tmp_path):
    p = plan(strategy="coarse-to-fine", stages=[{"trials": 16, "steps": 5}, {"trials": 6, "steps": 20}], top_k=3)
    result = run_search(p, SyntheticObjective(function="bowl"), search_dir=tmp_path)
    s1 = sorted((r for r in result.records if r["stage"] == 1), key=lambda r: -r["value"])
    s2 = [r for r in result.records if r["stage"] == 2]
    assert len(s1) == 16 and len(s2) == 6 and {r["steps"] for r in s1} == {5} and {r["steps"] for r in s2} == {20}
    fine = {d.name: d for d in result.stage_spaces[1]}
    for key in ("optim.lr", "optim.weight_decay"):
        top = [r["params"][key] for r in s1[:3]]
        assert fine[key].low <= min(top) and max(top) <= fine[key].high  # the narrowed range covers the top-k
        assert all(fine[key].low <= r["params"][key] <= fine[key].high for r in s2)
    full = p.space[0]
    assert (fine["optim.lr"].high / fine["optim.lr"].low) < (full.high / full.low)
    med = lambda rs: sorted(r["value"] for r in rs)[len(rs) // 2]  # noqa: E731
    assert med(s2) > med(s1)  # on the bowl, the fine stage's median beats the coarse stage's
    # equal budgets only: the best is stage 2's best even where a short stage-1 trial scored higher
    assert result.best["stage"] == 2 and result.best["value"] == max(r["value"] for r in s2)


def test_tpe_beats_random_on_the_bowl():
    """Statistical (search seeds 0..5, 30 trials each): TPE's median best of the bowl (peak 0.9) is
    higher than random search's — the multivariate model finds the peak."""
    import statistics

    best = {"random": [], "tpe": []}
    for seed in range(6):
        for sampler in best:
            st = in_memory(plan(trials=30, sampler=sampler, seed=seed))
            run_stage(st, SyntheticObjective(function="bowl"))
            best[sampler].append(st.study.best_value)
    assert statistics.median(best["tpe"]) > statistics.median(best["random"]) + 0.02, best


def test_cmaes_refuses_a_choice_dim_and_runs_on_a_continuous_space(tmp_path):
    with pytest.raises(UserError, match="cmaes.*continuous.*model.widths"):
        plan_from_table({"sampler": "cmaes", "trials": 4, "space": {**SPACE, "model.widths": {"dist": "choice", "values": [[8], [16]]}}})
    result = run_search(plan(trials=12, sampler="cmaes"), SyntheticObjective(function="bowl"), search_dir=tmp_path)
    assert len(result.records) == 12 and all(r["state"] == "COMPLETE" for r in result.records)


def test_a_stalled_worker_cannot_tell_a_trial_the_heartbeat_failed_and_retried(tmp_path):
    """A worker that stalls past the grace period finds its trial FAIL (retried by another): telling it
    returns FAIL instead of crashing the worker, and the retry copy keeps the configuration."""
    from trainwell.search.worker import tell

    store = open_storage(default_storage(tmp_path), 1, 1)
    study = optuna.create_study(storage=store, study_name="s")
    trial = study.ask()
    trial.suggest_float("optim.lr", 1e-4, 1e-1, log=True)
    store.record_heartbeat(trial._trial_id)
    time.sleep(1.3)
    optuna.storages.fail_stale_trials(study)
    first, retry = study.get_trials()
    assert first.state == TrialState.FAIL and retry.state == TrialState.WAITING and retry.params == first.params
    p = plan(trials=2)
    assert tell(Stage(study, store, 1, p.space, 2, 10), trial, {"value": 0.5}) == TrialState.FAIL
    assert study.get_trials()[0].state == TrialState.FAIL


def test_an_sqlite_storage_runs_and_resumes(tmp_path):
    """Optuna's RDB storage (here SQLite; PostgreSQL in test_postgres.py) with its own heartbeat."""
    url = f"sqlite:///{tmp_path / 'search.db'}"
    first = run_search(plan(trials=4), SyntheticObjective(), search_dir=tmp_path / "a", storage=url)
    again = run_search(plan(trials=4), SyntheticObjective(sleep=5), search_dir=tmp_path / "b", storage=url)
    assert [r["value"] for r in again.records] == [r["value"] for r in first.records] and again.seconds < 4
    assert first.storage == url and not (tmp_path / "a" / "study.journal").exists()
