"""`run_search`: each stage an Optuna study, run by local worker processes (or workers on other machines).

    >>> from trainwell.search import RecipeObjective, plan_from_table, run_search
    >>> plan = plan_from_table(raw["search"])
    >>> result = run_search(plan, RecipeObjective(raw), search_dir="searches/demo", workers=2)
    >>> result.best["params"], result.best["value"]

Studies: stage 1 is the study ``<study name>``; stage s > 1 of a coarse-to-fine plan is
``<study name>.stage<s>`` — a study per budget, so a pruner compares trials of equal length and
the best is taken from the last (longest) stage. Each is created with the plan's direction
(maximize accuracy / minimize val_loss), sampler and pruner (see `samplers`, `pruning`); the plan's
identity is stored in stage 1's user attribute ``trainwell_plan``.

What a worker does (`run_plan`): for each stage, compute its space — the full space for stage 1;
for stage s > 1 the space narrowed around the top-k COMPLETE trials of stage s−1
(`sampling.narrow_space`), a pure function of stage s−1's finished trials, so every worker on
every machine computes the same one — then ask/run/tell until the stage's budget is done (see
`worker`). A worker that finds nothing left to ask waits for the trials others still run (one may
die and be retried).

Workers: ``workers == 1`` runs in this process; ``workers > 1`` spawns that many processes
(multiprocessing "spawn", ``torch.set_num_threads(threads)`` each) while this process refreshes
the live table, then runs `run_plan` itself to finish anything a crashed worker left. Workers on
other machines run the same command with the same ``--storage`` and ``--study-name``.

Resuming: run it again with the same storage and study name — the plan must be the same
(``plan.identity()``); finished trials are kept; trials of a killed run are failed by the heartbeat
after the grace period and retried with their parameters.
"""
from __future__ import annotations

import math
import multiprocessing
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from trainwell.errors import UserError
from trainwell.io import check_writable
from trainwell.search.live import LiveView
from trainwell.search.plan import SearchPlan
from trainwell.search.pruning import make_pruner
from trainwell.search.records import compute_summary, ranked, study_records
from trainwell.search.redact import Redactor, mask_url, masked_errors, redacted_logs
from trainwell.search.samplers import batch_limit, make_sampler, sampler_seed
from trainwell.search.sampling import narrow_space
from trainwell.search.space import Dim
from trainwell.search.storage import GRACE_PERIOD, HEARTBEAT_INTERVAL, default_storage, open_storage
from trainwell.search.worker import Stage, run_stage

PLAN_ATTR = "trainwell_plan"


@dataclass
class SearchResult:
    records: list[dict[str, Any]]
    stage_spaces: list[list[Dim]]
    seconds: float
    storage: str  # masked: never holds a password
    study_name: str
    plan: SearchPlan

    @property
    def final_stage(self) -> int:
        return len(self.plan.stages)

    @property
    def ranked(self) -> list[dict[str, Any]]:
        """COMPLETE trials of the last (longest) stage, best first: only equal budgets are compared."""
        return ranked([r for r in self.records if r["stage"] == self.final_stage], self.plan.direction)

    @property
    def best(self) -> dict[str, Any] | None:
        r = self.ranked
        return r[0] if r else None

    @property
    def compute(self) -> dict[str, Any]:
        return compute_summary(self.records)


def stage_study_name(name: str, stage: int) -> str:
    return name if stage == 1 else f"{name}.stage{stage}"


def check_identity(study: optuna.Study, plan: SearchPlan) -> None:
    ident = plan.identity()
    stored = study.user_attrs.get(PLAN_ATTR)
    if stored is None:
        study.set_user_attr(PLAN_ATTR, ident)
    elif stored != ident:
        raise UserError(
            f"the study {study.study_name!r} was started with another search plan (space/sampler/pruner/objective/"
            f"stages/seed); resume it with the same settings, or start a new one with another --study-name or --out.\n"
            f"stored: {str(stored)[:2000]}\nnow:    {ident}"
        )


def open_stage(storage: Any, study_name: str, plan: SearchPlan, stage: int, space: list[Dim]) -> optuna.Study:
    """The study of `stage` (created when missing) with the plan's direction, sampler and pruner."""
    steps = plan.stages[stage - 1].steps
    trials = plan.stage_trials(stage - 1, space)
    name = stage_study_name(study_name, stage)
    study = optuna.create_study(storage=storage, study_name=name, direction=plan.direction, load_if_exists=True,
                                sampler=make_sampler(plan.sampler, space, trials, sampler_seed(plan.sampler, plan.seed, stage, 10**9)),
                                pruner=make_pruner(plan.pruner, steps))
    if study.direction.name.lower() != plan.direction:
        raise UserError(f"the study {name!r} in this storage is to {study.direction.name.lower()}, but the objective "
                        f"{plan.objective!r} needs {plan.direction}; use another --study-name")
    return study


def stage_space(plan: SearchPlan, prev_space: list[Dim], prev_records: list[dict[str, Any]], stage: int) -> list[Dim]:
    """Stage `stage`'s space narrowed around the top-k COMPLETE trials of the stage before."""
    top = ranked(prev_records, plan.direction)[: plan.top_k]
    if not top:
        raise UserError(f"search: stage {stage - 1} has no completed trial to narrow around (all failed or pruned?); "
                        "see the errors in trials.jsonl")
    return narrow_space(prev_space, [r["params"] for r in top], plan.margin, plan.min_width)


def run_plan(storage: Any, plan: SearchPlan, objective: Callable, *, study_name: str, search_dir: Path | None,
             batch: int = 1, workers: int = 1, on_finish: Callable[[], None] | None = None,
             redact: Callable[[str], str] = str) -> list[list[Dim]]:
    """One worker's share of the whole plan, stage by stage (see the module docstring); the stage spaces."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spaces: list[list[Dim]] = []
    prev: list[dict[str, Any]] = []
    for stage in range(1, len(plan.stages) + 1):
        space = plan.space if stage == 1 else stage_space(plan, spaces[-1], prev, stage)
        spaces.append(space)
        study = open_stage(storage, study_name, plan, stage, space)
        if stage == 1:
            check_identity(study, plan)
        trials = plan.stage_trials(stage - 1, space)
        per_worker = 1
        if batch > 1:
            per_worker = max(1, min(batch, math.ceil(trials / workers), batch_limit(plan.sampler, trials, space)))
        run_stage(Stage(study, storage, stage, space, trials, plan.stages[stage - 1].steps, plan.sampler, plan.pruner,
                        plan.hopeless, plan.objective, plan.seed, search_dir, redact),
                  objective, batch=per_worker, on_finish=on_finish)
        prev = study_records(study, stage, {d.name: d for d in space})
    return spaces


def collect(storage: Any, study_name: str, plan: SearchPlan) -> list[dict[str, Any]]:
    """Records of every stage study that exists so far."""
    dims = {d.name: d for d in plan.space}
    out: list[dict[str, Any]] = []
    for stage in range(1, len(plan.stages) + 1):
        try:
            study = optuna.load_study(study_name=stage_study_name(study_name, stage), storage=storage)
        except KeyError:
            break
        out += study_records(study, stage, dims)
    return out


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
    heartbeat_interval: int = HEARTBEAT_INTERVAL,
    grace_period: int = GRACE_PERIOD,
) -> SearchResult:
    """Run (or resume) the search; returns every trial's record. See the module docstring."""
    if workers < 1:
        raise UserError(f"--workers must be >= 1, got {workers}")
    search_dir = check_writable(search_dir, "search folder (--out)")
    spec = storage or default_storage(search_dir)
    redact = Redactor(spec)
    start = time.perf_counter()
    with redacted_logs(redact), masked_errors(redact):
        store = open_storage(spec, heartbeat_interval, grace_period)
        with LiveView([d.name for d in plan.space], enabled=live, direction=plan.direction, metric=plan.objective) as view:
            refresh = (lambda: view.update(collect(store, study_name, plan), len(plan.stages))) if live else None
            if workers > 1:
                _run_processes(spec, plan, objective, study_name, search_dir, workers, batch, threads,
                               heartbeat_interval, grace_period, refresh)
            spaces = run_plan(store, plan, objective, study_name=study_name, search_dir=search_dir, batch=batch,
                              workers=1, on_finish=refresh, redact=redact)
            if refresh is not None:
                refresh()
        records = collect(store, study_name, plan)
    return SearchResult(records, spaces, time.perf_counter() - start, mask_url(spec), study_name, plan)


def worker_main(spec: str, plan: SearchPlan, objective: Callable, study_name: str, search_dir: str | None,
                batch: int, workers: int, threads: int, heartbeat_interval: int, grace_period: int) -> None:
    """Entry point of a spawned worker process: its own storage connection, the whole plan."""
    import torch

    torch.set_num_threads(threads)
    signal.signal(signal.SIGTERM, _interrupt)  # the parent's terminate(): give the running trials back
    redact = Redactor(spec)
    try:
        with redacted_logs(redact):
            store = open_storage(spec, heartbeat_interval, grace_period)
            run_plan(store, plan, objective, study_name=study_name, search_dir=Path(search_dir) if search_dir else None,
                     batch=batch, workers=workers, redact=redact)
    except KeyboardInterrupt:
        sys.exit(130)
    except BaseException:  # noqa: BLE001 — print it without the password, exit non-zero
        sys.stderr.write(redact(traceback.format_exc()))
        sys.exit(1)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _run_processes(spec: str, plan: SearchPlan, objective: Callable, study_name: str, search_dir: Path,
                   workers: int, batch: int, threads: int, heartbeat_interval: int, grace_period: int,
                   refresh: Callable | None) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=worker_main, name=f"trainwell-search-worker-{i}",
                    args=(spec, plan, objective, study_name, str(search_dir), batch, workers, threads,
                          heartbeat_interval, grace_period))
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
        print(f"trainwell search: worker process(es) {', '.join(bad)} failed; this process finishes the search "
              "(run with --workers 1 to see the error)", file=sys.stderr)


def other_searches(spec: str, study_name: str) -> dict[str, list[dict[str, Any]]]:
    """{"<sampler> (<study>)": records} of the other one-stage searches in the same storage.

    What the random-vs-grid comparison of the report reads. Only studies that carry a trainwell
    plan are read; their records are plain numbers (nothing from them becomes a path).
    """
    import json

    store = open_storage(spec)
    out: dict[str, list[dict[str, Any]]] = {}
    for summary in optuna.get_all_study_summaries(store, include_best_trial=False):
        name = summary.study_name
        plan = summary.user_attrs.get(PLAN_ATTR)
        if name == study_name or not isinstance(plan, str):
            continue
        try:
            info = json.loads(plan)
            sampler, stages = info["sampler"], info["stages"]
        except (ValueError, KeyError, TypeError):
            continue
        if isinstance(stages, list) and len(stages) == 1 and sampler in ("random", "grid", "tpe", "cmaes"):
            out[f"{sampler} ({name})"] = study_records(optuna.load_study(study_name=name, storage=store), 1)
    return out
