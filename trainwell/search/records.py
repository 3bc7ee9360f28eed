"""Plain records of a search's trials (what the table, the report and the JSON files read).

One dict per trial that ran or runs: ``number`` (in its stage's study), ``stage``, ``trial`` (the
label ``s1-007``), ``state`` ("COMPLETE" | "PRUNED" | "FAIL" | "RUNNING" | "WAITING"), ``value``
(the final validation figure of a COMPLETE trial, else None), ``params``, ``steps`` (the stage's
budget), ``steps_run``, ``pruned`` (why it was stopped) and ``last_value`` (its figure then), ``error``, ``retried`` (a FAIL whose
configuration was run again by a later trial) and the objective's extra numbers (val_accuracy,
val_loss, best_val_accuracy, train_seconds, engine, ...). Surplus trials (see `worker`) never ran
and have no record.

`ranked(records, direction)` sorts the COMPLETE ones best first (ties: lower number first);
`compute_summary(records)` is the "compute saved by pruning" figure.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from trainwell.io import atomic_write_text
from trainwell.search.space import Dim, decode_choice
from trainwell.search.worker import retried_numbers

SKIP = {"surplus", "interrupted"}


def trial_label(stage: int, number: int) -> str:
    """'s1-007': trial 7 of stage 1."""
    return f"s{stage}-{number:03d}"


def record_of(trial: FrozenTrial, stage: int, dims: dict[str, Dim] | None = None, retried: set[int] = frozenset()) -> dict[str, Any]:
    params = dict(trial.params)
    if dims:
        params = {k: decode_choice(dims[k], v) if k in dims and not dims[k].numeric else v for k, v in params.items()}
    attrs = trial.user_attrs
    rec: dict[str, Any] = {
        "number": trial.number,
        "stage": stage,
        "trial": trial_label(stage, trial.number),
        "state": trial.state.name,
        "value": trial.value if trial.state.name == "COMPLETE" else None,
        "params": params,
    }
    if trial.state.name == "PRUNED" and trial.value is not None:
        rec["last_value"] = trial.value  # the figure reported at the step it was stopped
    if trial.state.name == "FAIL" and trial.number in retried:
        rec["retried"] = True
    if attrs.get("interrupted"):
        rec["interrupted"] = True
    rec.update({k: v for k, v in attrs.items() if k not in SKIP and k not in rec})
    return rec


def study_records(study: optuna.Study, stage: int, dims: dict[str, Dim] | None = None) -> list[dict[str, Any]]:
    """Records of one stage's study, in trial-number order (surplus trials left out)."""
    trials = study.get_trials(deepcopy=False)
    retried = retried_numbers(trials)
    return [record_of(t, stage, dims, retried) for t in trials if not t.user_attrs.get("surplus")]


def ranked(records: list[dict[str, Any]], direction: str = "maximize") -> list[dict[str, Any]]:
    sign = -1.0 if direction == "maximize" else 1.0
    done = [r for r in records if r["state"] == "COMPLETE" and r["value"] is not None]
    return sorted(done, key=lambda r: (sign * r["value"], r["stage"], r["number"]))


def settled(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Finished trials that took a place of the budget (not the FAILs that were retried)."""
    return [r for r in records if r["state"] in ("COMPLETE", "PRUNED", "FAIL") and not r.get("retried")]


def compute_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Steps run vs steps budgeted over the settled trials, and how many were pruned (and why).

    ``saved`` = 1 − steps_run / steps_budgeted: the share of the training budget that pruning
    (and failures) did not spend. Trials without a known budget or step count are left out.
    """
    rows = [r for r in settled(records) if isinstance(r.get("steps_budget", r.get("steps")), int)
            and isinstance(r.get("steps_run"), int)]
    run = sum(r["steps_run"] for r in rows)
    budget = sum(r.get("steps_budget", r.get("steps")) for r in rows)
    pruned = [r for r in settled(records) if r["state"] == "PRUNED"]
    return {
        "steps_run": run,
        "steps_budgeted": budget,
        "saved": (1.0 - run / budget) if budget else 0.0,
        "pruned": len(pruned),
        "pruned_hopeless": sum(str(r.get("pruned", "")).startswith("hopeless") for r in pruned),
        "trials": len(rows),
    }


def write_jsonl(path: str | Path, records: list[dict[str, Any]]) -> Path:
    """All records as a JSON-lines file, written atomically."""
    return atomic_write_text(path, "".join(json.dumps(r, default=str) + "\n" for r in records))
