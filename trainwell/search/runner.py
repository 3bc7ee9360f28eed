"""`run_search`: plan each stage, run it with local workers, narrow, and collect the results.

    >>> from trainwell.search import RecipeObjective, plan_from_table, run_search
    >>> plan = plan_from_table(raw["search"])
    >>> result = run_search(plan, RecipeObjective(raw), search_dir="searches/demo", workers=2)
    >>> result.best["params"], result.best["value"]

Stage by stage: the stage's space (the full space for stage 1; for coarse-to-fine stage s > 1, the
space narrowed around the top-k COMPLETE trials of stage s−1, see `sampling.narrow_space`) and its
points (`sampling.sample_points`, seed ``plan.seed + 1000·(s−1)``) are computed once, under a lock,
by the first process that gets there, and stored in the study's user attributes
(``space.stageS``, ``points.stageS``, ``steps.stageS``); then the missing slots are enqueued and
the workers run until every slot of the stage is done (see `queue` and `worker`).

Workers: ``workers == 1`` runs in this process; ``workers > 1`` spawns that many processes
(multiprocessing "spawn", ``torch.set_num_threads(1)`` each), while this process refreshes the
live table from the study. With `batch` > 1 each worker claims up to `batch` trials at a time
and runs them with the objective's ``run_many`` (vectorized).

Resuming: run it again with the same storage and study name — the plan is checked to be the same
(``plan.identity()``), done slots are kept, missing and interrupted ones are run.
"""
from __future__ import annotations

import math
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from trainwell.errors import UserError
from trainwell.search import queue
from trainwell.search.live import LiveView
from trainwell.search.plan import SearchPlan
from trainwell.search.records import ranked, study_records
from trainwell.search.sampling import narrow_space, sample_points
from trainwell.search.space import Dim, parse_space, space_to_dict
from trainwell.search.storage import default_storage, open_study
from trainwell.search.worker import run_stage, worker_main


@dataclass
class SearchResult:
    records: list[dict[str, Any]]
    stage_spaces: list[list[Dim]]
    seconds: float
    storage: str
    study_name: str

    @property
    def ranked(self) -> list[dict[str, Any]]:
        return ranked(self.records)

    @property
    def best(self) -> dict[str, Any] | None:
        r = self.ranked
        return r[0] if r else None


def stage_space(study: optuna.Study, plan: SearchPlan, stage: int) -> list[Dim]:
    """The space of `stage` (1-based): full for stage 1, narrowed around stage−1's top-k after."""
    if stage == 1:
        return plan.space
    prev = parse_space(queue.load_json(study, f"space.stage{stage - 1}"), f"stage {stage - 1} space")
    dims = {d.name: d for d in prev}
    top = ranked(study_records(study, dims))
    top = [r for r in top if r["stage"] == stage - 1][: plan.top_k]
    if not top:
        raise UserError(f"search: stage {stage - 1} has no completed trial to narrow around (all failed?); "
                        "see the errors in trials.jsonl")
    return narrow_space(prev, [r["params"] for r in top], plan.margin, plan.min_width)


def plan_stage(study: optuna.Study, plan: SearchPlan, stage: int) -> tuple[list[Dim], int]:
    """Compute (once) and store the stage's space and points; enqueue missing slots. Returns (space, trials)."""
    index = stage - 1
    with queue.storage_lock(study, f"plan{stage}"):
        if queue.load_json(study, f"points.stage{stage}") is None:
            space = stage_space(study, plan, stage)
            strategy = "grid" if plan.strategy == "grid" else "random"
            points = sample_points(space, plan.stages[index].trials, strategy, plan.seed + 1000 * index)
            queue.store_json(study, f"space.stage{stage}", space_to_dict(space))
            queue.store_json(study, f"steps.stage{stage}", plan.stages[index].steps)
            queue.store_json(study, f"points.stage{stage}", points)
    space = parse_space(queue.load_json(study, f"space.stage{stage}"), f"stage {stage} space")
    points = queue.load_json(study, f"points.stage{stage}")
    queue.enqueue_missing(study, stage, points, plan.stages[index].steps)
    return space, len(points)


def check_identity(study: optuna.Study, plan: SearchPlan) -> None:
    ident = plan.identity()
    stored = study.user_attrs.get("plan")
    if stored is None:
        study.set_user_attr("plan", ident)
    elif stored != ident:
        raise UserError(
            f"the study {study.study_name!r} was started with another search plan (space/strategy/stages/seed); "
            f"resume it with the same settings, or start a new one with another --study-name or --out.\n"
            f"stored: {stored}\nnow:    {ident}"
        )


def run_search(
    plan: SearchPlan,
    objective: Callable,
    *,
    search_dir: str | Path,
    storage: str | None = None,
    study_name: str = "search",
    workers: int = 1,
    batch: int = 1,
    threads: int = 1,
    live: bool = False,
    stale_after: float = queue.STALE_AFTER,
    on_stage: Callable[[int, list[Dim]], None] | None = None,
) -> SearchResult:
    """Run (or resume) the search; returns every trial's record. See the module docstring."""
    if workers < 1:
        raise UserError(f"--workers must be >= 1, got {workers}")
    search_dir = Path(search_dir)
    search_dir.mkdir(parents=True, exist_ok=True)
    storage = storage or default_storage(search_dir)
    study = open_study(storage, study_name)
    check_identity(study, plan)
    keys = [d.name for d in plan.space]
    spaces: list[Dim] = []
    start = time.perf_counter()
    with LiveView(keys, enabled=live) as view:
        for stage in range(1, len(plan.stages) + 1):
            space, total = plan_stage(study, plan, stage)
            spaces.append(space)
            if on_stage is not None:
                on_stage(stage, space)
            refresh = lambda: view.update(study_records(study), stage, total)  # noqa: E731
            per_worker = max(1, min(batch, math.ceil(total / workers))) if batch > 1 else 1
            if workers == 1:
                run_stage(study, stage, objective, search_dir=search_dir, batch=per_worker,
                          stale_after=stale_after, on_finish=refresh if live else None)
            else:
                _run_processes(storage, study_name, stage, objective, search_dir, workers, per_worker, threads,
                               stale_after, refresh if live else None)
                # a sweep in this process: finishes whatever a crashed worker process left
                run_stage(study, stage, objective, search_dir=search_dir, batch=per_worker, stale_after=stale_after)
            refresh()
    return SearchResult(study_records(study, {d.name: d for d in plan.space}), spaces,
                        time.perf_counter() - start, storage, study_name)


def _run_processes(storage: str, study_name: str, stage: int, objective: Callable, search_dir: Path,
                   workers: int, batch: int, threads: int, stale_after: float, refresh: Callable | None) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=worker_main, args=(storage, study_name, stage, objective, str(search_dir), batch, threads, stale_after),
                    name=f"trainwell-search-worker-{i}")
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    try:
        while any(p.is_alive() for p in procs):
            if refresh is not None:
                refresh()
            for p in procs:
                p.join(timeout=0.5 / workers)
    except BaseException:
        for p in procs:
            if p.is_alive():
                p.terminate()
        raise
    finally:
        for p in procs:
            p.join()
    bad = [f"{p.name} (exit code {p.exitcode})" for p in procs if p.exitcode not in (0, None)]
    if bad:
        import sys

        print(f"trainwell search: worker process(es) {', '.join(bad)} failed; this process finishes the stage "
              "(run with --workers 1 to see the error)", file=sys.stderr)
