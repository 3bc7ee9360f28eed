"""`CSVLogger`: one row per record in a CSV file (default <run directory>/metrics.csv).

    trainwell.fit(model, train, val, callbacks=[CSVLogger("logs")])     # logs/metrics.csv
    # recipe: [log] csv = true   → <run>/metrics.csv
    pandas.read_csv("runs/x/metrics.csv").query("split == 'val'")

Columns: ``step, epoch, split``, then the run's figures in the order they first appear — for a
classification run ``loss, accuracy, lr, steps_per_s, examples_per_s`` (``grad_norm`` when
logged), for regression ``loss, mse, rmse, mae, r2, ...`` — and last, with a `StatsCallback`, the
per-layer columns of the rows of split ``stats`` (``act_std/<layer>``, ``update_ratio/<param>``, ...).
A row leaves empty the columns its record does not have. Numbers are written in full precision
(Python's repr: ``0.1`` reads back as 0.1); NaN as ``nan``.

Rows are appended and flushed as they come. When a record brings a new column, the file is
rewritten once with the wider header (atomically). A fresh run (step 0) starts a new file; a
resumed run keeps the rows up to its checkpoint's step and drops the later ones (logged by the
run that was killed, and about to be logged again).
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import IO, Any

from trainwell.errors import UserError
from trainwell.io import atomic_write_text, ensure_dir
from trainwell.train.loggers.base import Logger

FIRST = ["step", "epoch", "split"]


class CSVLogger(Logger):
    """Rows of records in `dir`/`filename` (default: <run directory>/metrics.csv). See the module docstring."""

    def __init__(self, dir: str | Path | None = None, *, filename: str = "metrics.csv", stats_stream: str = "stats",
                 only_with_run_dir: bool = False):
        super().__init__(dir, stats_stream=stats_stream, only_with_run_dir=only_with_run_dir)
        if Path(filename).name != filename or not filename:
            raise UserError(f"CSVLogger: filename must be a file name without folders, found {filename!r}")
        self.filename = filename
        self.path: Path | None = None
        self.columns: list[str] = []
        self._handle: IO[str] | None = None
        self._writer: Any = None

    def open(self, state: Any, folder: Path | None) -> None:
        ensure_dir(folder, "CSV folder")
        self.path = folder / self.filename
        rows: list[dict[str, str]] = []
        self.columns = list(FIRST)
        if state.step > 0 and self.path.exists():  # a resumed run: keep the rows up to its step
            self.columns, rows = _read(self.path)
            rows = [r for r in rows if _step(r) is not None and _step(r) <= state.step]
        self._rewrite(rows)

    def _rewrite(self, rows: list[dict[str, Any]]) -> None:
        if self._handle is not None:
            self._handle.close()
        text = io.StringIO()
        writer = csv.DictWriter(text, self.columns, restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.path, text.getvalue())
        self._handle = open(self.path, "a", encoding="utf-8", newline="")
        self._writer = csv.DictWriter(self._handle, self.columns, restval="", lineterminator="\n")

    def write(self, split: str, step: int, epoch: float | None, values: dict[str, float]) -> None:
        row: dict[str, Any] = {"step": step, "epoch": "" if epoch is None else epoch, "split": split}
        row.update({k: repr(v) for k, v in values.items()})
        new = [k for k in values if k not in self.columns]
        if new:
            _, rows = _read(self.path)
            self.columns = _ordered(self.columns + new)
            self._rewrite(rows)
        self._writer.writerow(row)
        self._handle.flush()

    def close(self, state: Any) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = self._writer = None


def _ordered(columns: list[str]) -> list[str]:
    """step, epoch, split; the run's figures (loss, metrics, lr ...); then per-layer columns (with a
    "/"), each group in first-seen order — whichever record came first."""
    rest = [c for c in columns if c not in FIRST]
    return FIRST + [c for c in rest if "/" not in c] + [c for c in rest if "/" in c]


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        columns = list(reader.fieldnames or FIRST)
        return columns, list(reader)


def _step(row: dict[str, str]) -> float | None:
    try:
        return float(row.get("step") or "")
    except ValueError:
        return None


__all__ = ["CSVLogger"]
