"""Reading plain records (JSON lines) written by runs."""
from __future__ import annotations

from typing import Any

from trainwell.io import read_jsonl  # noqa: F401 (the one JSON-lines reader, re-exported for the reports)


def series(records: list[dict[str, Any]], split: str, key: str) -> tuple[list[float], list[float]]:
    """(steps, values) of `key` for records of one split, in step order, last value per step."""
    points: dict[float, float] = {}
    for r in records:
        if r.get("split") == split and key in r and r[key] is not None:
            points[r["step"]] = r[key]
    steps = sorted(points)
    return steps, [points[s] for s in steps]
