"""Plain records of a search's trials (what the table, the report and the JSON files read).

One dict per trial: ``number, slot, stage, state ("COMPLETE" | "FAIL" | "RUNNING" | "WAITING"),
value (final validation accuracy or None), params {key: value}, error, interrupted`` and the
objective's extra numbers (best_val_accuracy, train_seconds, engine, ...). `ranked` sorts the
complete ones best first (ties: lower trial number first).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from trainwell.io import atomic_write_text, read_jsonl  # noqa: F401 (read_jsonl re-exported)
from trainwell.search.space import Dim, decode_choice

SKIP = {"slot", "stage", "index", "worker", "heartbeat"}


def record_of(trial: FrozenTrial, dims: dict[str, Dim] | None = None) -> dict[str, Any]:
    params = dict(trial.params) or dict(trial.system_attrs.get("fixed_params", {}))
    if dims:
        params = {k: decode_choice(dims[k], v) if k in dims and not dims[k].numeric else v for k, v in params.items()}
    attrs = trial.user_attrs
    rec: dict[str, Any] = {
        "number": trial.number,
        "slot": attrs.get("slot"),
        "stage": attrs.get("stage"),
        "state": trial.state.name,
        "value": trial.value if trial.state.name == "COMPLETE" else None,
        "params": params,
    }
    rec.update({k: v for k, v in attrs.items() if k not in SKIP and k not in rec})
    return rec


def study_records(study: optuna.Study, dims: dict[str, Dim] | None = None) -> list[dict[str, Any]]:
    """Records of the search's trials (those with a slot), in trial-number order."""
    return [record_of(t, dims) for t in study.get_trials(deepcopy=False) if "slot" in t.user_attrs]


def ranked(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    done = [r for r in records if r["state"] == "COMPLETE"]
    return sorted(done, key=lambda r: (-r["value"], r["number"]))


def write_jsonl(path: str | Path, records: list[dict[str, Any]]) -> Path:
    """All records as a JSON-lines file, written atomically."""
    return atomic_write_text(path, "".join(json.dumps(r, default=str) + "\n" for r in records))


def other_studies(storage: str, study_name: str) -> dict[str, list[dict[str, Any]]]:
    """{strategy: records} of the other searches in the same storage (for the random-vs-grid comparison)."""
    from trainwell.search.storage import open_storage

    store = open_storage(storage)
    out: dict[str, list[dict[str, Any]]] = {}
    for name in optuna.get_all_study_names(store):
        if name == study_name or ".lock." in name:
            continue
        study = optuna.load_study(study_name=name, storage=store)
        plan = study.user_attrs.get("plan")
        if plan is None:
            continue
        strategy = json.loads(plan)["strategy"]
        out[f"{strategy} ({name})"] = study_records(study)
    return out
