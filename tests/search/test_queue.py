"""The Optuna-backed trial queue: workers share a study file, failures are recorded, a killed search resumes."""
from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time

import pytest

from trainwell.errors import UserError
from trainwell.search import plan_from_table, run_search
from trainwell.search.storage import default_storage, open_study
from trainwell.search.synthetic import SyntheticObjective

SPACE = {"optim.lr": {"dist": "loguniform", "low": 1e-4, "high": 1e-1},
         "optim.weight_decay": {"dist": "loguniform", "low": 1e-6, "high": 1e-2}}


def plan(trials=10, strategy="random", **kw):
    return plan_from_table({"strategy": strategy, "trials": trials, "steps": 10, "space": SPACE, **kw})


def slots_done(records):
    return collections.Counter(r["slot"] for r in records
                               if r["state"] == "COMPLETE" or (r["state"] == "FAIL" and not r.get("interrupted")))


def test_two_worker_processes_no_lost_or_duplicated_trials(tmp_path):
    p = plan(trials=16)
    result = run_search(p, SyntheticObjective(sleep=0.25), search_dir=tmp_path, workers=2)
    done = slots_done(result.records)
    assert sorted(done) == [f"s1-t{i:03d}" for i in range(16)] and set(done.values()) == {1}
    assert len(result.records) == 16 and all(r["state"] == "COMPLETE" for r in result.records)
    assert len({r["number"] for r in result.records}) == 16
    pids = collections.Counter(r["pid"] for r in result.records)
    assert len(pids) == 2 and os.getpid() not in pids, pids  # both spawned workers ran trials
    # the same points as a single in-process worker gets (the plan depends on the seed only)
    single = run_search(p, SyntheticObjective(), search_dir=tmp_path / "one", workers=1)
    assert sorted((r["slot"], r["value"]) for r in single.records) == sorted((r["slot"], r["value"]) for r in result.records)


def test_failures_are_recorded_and_do_not_stop_the_study(tmp_path):
    result = run_search(plan(trials=12), SyntheticObjective(fail_above_lr=0.03, nan_above_lr=0.01), search_dir=tmp_path)
    assert set(slots_done(result.records).values()) == {1} and len(result.records) == 12
    for r in result.records:
        lr = r["params"]["optim.lr"]
        if lr > 0.03:
            assert r["state"] == "FAIL" and "RuntimeError: synthetic crash" in r["error"]
        elif lr > 0.01:
            assert r["state"] == "FAIL" and "not a finite number" in r["error"]
        else:
            assert r["state"] == "COMPLETE" and r["value"] == pytest.approx(0.9 * __import__("math").exp(
                -((__import__("math").log10(lr) + 2.37) ** 2) / (2 * 0.15**2)))
    assert any(r["state"] == "FAIL" for r in result.records) and any(r["state"] == "COMPLETE" for r in result.records)


SCRIPT = """
import sys
from trainwell.search import plan_from_table, run_search
from trainwell.search.synthetic import SyntheticObjective
if __name__ == "__main__":
    plan = plan_from_table({"strategy": "random", "trials": 10, "steps": 10, "space": %r})
    run_search(plan, SyntheticObjective(sleep=0.4), search_dir=sys.argv[1], workers=1)
"""


def test_killed_search_resumes_and_runs_only_the_missing_trials(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(SCRIPT % (SPACE,))
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "s")])
    try:
        deadline = time.time() + 90
        completed = 0
        while time.time() < deadline and completed < 3:
            time.sleep(0.2)
            if (tmp_path / "s" / "study.journal").exists():
                try:
                    study = open_study(default_storage(tmp_path / "s"), "search", create=False)
                    completed = sum(t.state.name == "COMPLETE" for t in study.get_trials(deepcopy=False))
                except UserError:
                    pass
        assert completed >= 3, "the search did not start in time"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    study = open_study(default_storage(tmp_path / "s"), "search", create=False)
    before = {t.user_attrs["slot"]: t.number for t in study.get_trials() if t.state.name == "COMPLETE"}
    running = [t for t in study.get_trials() if t.state.name == "RUNNING"]
    assert 3 <= len(before) < 10 and len(running) <= 1

    result = run_search(plan(), SyntheticObjective(), search_dir=tmp_path / "s", workers=1)
    done = slots_done(result.records)
    assert sorted(done) == [f"s1-t{i:03d}" for i in range(10)] and set(done.values()) == {1}
    # the trials completed before the kill are kept, not repeated; only the missing ones ran now
    now = [r for r in result.records if r.get("pid") == os.getpid()]
    assert len(now) == 10 - len(before)
    assert {r["slot"]: r["number"] for r in result.records if r["slot"] in before and r["state"] == "COMPLETE"} == before
    interrupted = [r for r in result.records if r.get("interrupted")]
    assert len(interrupted) == len(running) and all("interrupted" in r["error"] for r in interrupted)


def test_resuming_with_another_plan_is_refused(tmp_path):
    run_search(plan(trials=3), SyntheticObjective(), search_dir=tmp_path)
    with pytest.raises(UserError, match="another search plan"):
        run_search(plan(trials=4), SyntheticObjective(), search_dir=tmp_path)


def test_coarse_to_fine_stage_two_lies_around_the_top_k(tmp_path):
    p = plan(strategy="coarse-to-fine", stages=[{"trials": 16, "steps": 5}, {"trials": 6, "steps": 20}], top_k=3)
    result = run_search(p, SyntheticObjective(function="bowl"), search_dir=tmp_path)
    s1 = sorted((r for r in result.records if r["stage"] == 1), key=lambda r: -r["value"])
    s2 = [r for r in result.records if r["stage"] == 2]
    assert len(s1) == 16 and len(s2) == 6 and all(r["steps"] if "steps" in r else True for r in s2)
    fine = {d.name: d for d in result.stage_spaces[1]}
    for key in ("optim.lr", "optim.weight_decay"):
        top = [r["params"][key] for r in s1[:3]]
        assert fine[key].low <= min(top) and max(top) <= fine[key].high  # the narrowed range covers the top-k
        assert all(fine[key].low <= r["params"][key] <= fine[key].high for r in s2)
    full = p.space[0]
    assert (fine["optim.lr"].high / fine["optim.lr"].low) < (full.high / full.low)
    # on the bowl, the fine stage's median beats the coarse stage's median
    med = lambda rs: sorted(r["value"] for r in rs)[len(rs) // 2]  # noqa: E731
    assert med(s2) > med(s1)
