"""Reading plain records (JSON lines) written by runs, and checking they are what a report needs.

`read_records(path, what)` reads a JSON-lines file with `trainwell.io.read_jsonl` (binary data, a
corrupt line or a line that is not a JSON object raise `UserError` naming the file and line; so
does a non-empty file without one complete record, NUL bytes included) and then checks that each record has a numeric ``step`` (and a string ``split`` where given), so a
report never fails deep inside matplotlib on a file that is not a trainwell stream.

`metric_names(records)` lists the figures a metrics stream holds — ``loss`` first, then every
other numeric key in the order it first appears (accuracy; label_accuracy, exact_match; mse,
rmse, mae, r2 ...) — leaving out the optimizer and speed columns (`OPTIM_KEYS`). A report plots
exactly these, so a regression run never shows an accuracy plot.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trainwell.errors import UserError
from trainwell.io import read_jsonl  # the one JSON-lines reader (re-exported for the reports)

BOOKKEEPING = ("split", "step", "epoch")
OPTIM_KEYS = ("lr", "grad_norm", "steps_per_s", "examples_per_s")


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read_records(path: str | Path, what: str = "metrics") -> list[dict[str, Any]]:
    """The records of `path` (none when it does not exist), each checked to have a numeric
    ``step`` and, where present, a string ``split``; else `UserError` naming the file and record."""
    path = Path(path)
    records = read_jsonl(path)
    if not records and path.exists() and path.stat().st_size:
        with open(path, "rb") as handle:
            head = handle.read(1 << 16)
        if b"\0" in head:
            raise UserError(f"{path} is not a text file of JSON lines (it holds binary data: NUL bytes)")
        raise UserError(f"{path} holds {path.stat().st_size} bytes but no complete record (one JSON object per "
                        "line); it is not a trainwell " + what + " file, or its writer was killed mid-line")
    for k, record in enumerate(records, start=1):
        shown = json.dumps(record, default=str)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        if not is_number(record.get("step")):
            raise UserError(f"{path}: record {k} ({shown}) has no numeric 'step'; it is not a trainwell {what} "
                            "record (was the file replaced or edited?)")
        if "split" in record and not isinstance(record["split"], str):
            raise UserError(f"{path}: record {k} ({shown}) has a 'split' that is not a string")
    return records


def metric_names(records: list[dict[str, Any]]) -> list[str]:
    """``loss`` first, then the other numeric figures in first-seen order (see the module docstring)."""
    seen: dict[str, None] = {}
    for r in records:
        for key, value in r.items():
            if key not in BOOKKEEPING and key not in OPTIM_KEYS and is_number(value):
                seen.setdefault(key, None)
    names = list(seen)
    return (["loss"] if "loss" in seen else []) + [n for n in names if n != "loss"]


def series(records: list[dict[str, Any]], split: str, key: str) -> tuple[list[float], list[float]]:
    """(steps, values) of `key` for records of one split, in step order, last value per step
    (a resumed run logs the steps after its checkpoint again; the later record wins).
    Non-numeric values are skipped."""
    points: dict[float, float] = {}
    for r in records:
        if r.get("split") == split and is_number(r.get(key)):
            points[r["step"]] = float(r[key])
    steps = sorted(points)
    return steps, [points[s] for s in steps]


__all__ = ["OPTIM_KEYS", "is_number", "metric_names", "read_jsonl", "read_records", "series"]
