"""`RecordTail`: the records a run emitted to a stream since the last look (no trainer event needed).

Callbacks write records with `state.emit(stream, record)`: to ``run_dir/<stream>.jsonl`` (one JSON
object per line, flushed) or, without a run directory, to ``state.records[stream]``. A logger
that republishes another callback's records (per-layer statistics from `StatsCallback`, stream
"stats") keeps a `RecordTail` and calls `new(state)` at its own events: it reads only what was
appended since the previous call (a byte offset into the file, or an index into the list), so
the cost is proportional to the new records and nothing on the device is touched.

Records already in the stream when the tail starts (an earlier run in the same folder, the part of
a resumed run before its checkpoint) are not returned.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class RecordTail:
    """New records of `stream` since `start(state)` or the previous `new(state)`."""

    def __init__(self, stream: str):
        self.stream = stream
        self._path: Path | None = None
        self._offset = 0

    def start(self, state: Any) -> None:
        if state.run_dir is None:
            self._path, self._offset = None, len(state.records.get(self.stream, []))
            return
        self._path = Path(state.run_dir) / f"{self.stream}.jsonl"
        self._offset = _end_of_last_line(self._path)

    def new(self, state: Any) -> list[dict[str, Any]]:
        if self._path is None:
            records = state.records.get(self.stream, [])
            out, self._offset = records[self._offset:], len(records)
            return list(out)
        if not self._path.exists():
            return []
        with open(self._path, "rb") as handle:
            size = handle.seek(0, 2)
            if size < self._offset:  # cut shorter (a torn line removed): go on from its end
                self._offset = size
            handle.seek(self._offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1  # whole lines only
        self._offset += end
        out = []
        for line in data[:end].decode("utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # not ours to judge: `trainwell report` names a corrupt line
            if isinstance(record, dict):
                out.append(record)
        return out


def _end_of_last_line(path: Path, block: int = 4096) -> int:
    """The byte offset just after the last newline of `path` (0 when absent or without one): a
    torn last line (a killed writer) is cut off by the next `open_jsonl`, so it is never read."""
    if not path.exists():
        return 0
    with open(path, "rb") as handle:
        end = handle.seek(0, 2)
        while end > 0:
            start = max(0, end - block)
            handle.seek(start)
            at = handle.read(end - start).rfind(b"\n")
            if at >= 0:
                return start + at + 1
            end = start
    return 0
