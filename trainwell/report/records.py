"""Reading plain records (JSON lines) written by runs."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Records of a .jsonl file; a truncated last line (a killed run) is skipped."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def series(records: list[dict[str, Any]], split: str, key: str) -> tuple[list[float], list[float]]:
    """(steps, values) of `key` for records of one split, in step order, last value per step."""
    points: dict[float, float] = {}
    for r in records:
        if r.get("split") == split and key in r and r[key] is not None:
            points[r["step"]] = r[key]
    steps = sorted(points)
    return steps, [points[s] for s in steps]
