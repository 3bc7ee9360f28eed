"""Inputs to predict on (labels optional): the file formats training reads, without the splits.

| file        | inputs                        | labels (optional)               |
|-------------|-------------------------------|---------------------------------|
| .npz        | array `x`                     | array `y`                       |
| .npy        | the array                     | —                               |
| .csv        | every numeric column          | the `label_column` when present |

Arrays are read with `allow_pickle=False` (a file can never run code).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from trainwell.errors import UserError
from trainwell.io import regular_file


def read_inputs(path: str | Path, label_column: str = "label") -> tuple[np.ndarray, np.ndarray | None]:
    """(x, y or None) from an input file (see the module docstring)."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"input {path} is a folder; give a .npz, .npy or .csv file")
    regular_file(path, "input file")  # a device or a FIFO would be read forever or block
    suffix = path.suffix.lower()
    try:
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                if "x" not in data.files:
                    raise UserError(f"{path}: no array 'x' (found {sorted(data.files)})")
                return data["x"], (data["y"] if "y" in data.files else None)
        if suffix == ".npy":
            return np.load(path, allow_pickle=False), None
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 — a corrupt or foreign file
        raise UserError(f"{path}: cannot read it as a NumPy file ({type(exc).__name__}: {exc})") from None
    if suffix == ".csv":
        return _read_csv(path, label_column)
    raise UserError(f"input file {path}: unsupported type {suffix!r}; use .npz (x[, y]), .npy or .csv")


def _read_csv(path: Path, label_column: str) -> tuple[np.ndarray, np.ndarray | None]:
    import csv

    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = [r for r in csv.reader(handle) if any(cell.strip() for cell in r)]
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read it as CSV text ({exc})") from None
    if len(rows) < 2:
        raise UserError(f"{path}: needs a header row and at least one data row, found {len(rows)} non-empty row(s)")
    header = [h.strip() for h in rows[0]]
    values = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise UserError(f"{path}: line {number} has {len(row)} fields, the header has {len(header)}")
        try:
            values.append([float(v) for v in row])
        except ValueError as exc:
            raise UserError(f"{path}: line {number}: non-numeric value ({exc})") from None
    table = np.asarray(values, dtype=np.float64)
    if label_column in header:
        col = header.index(label_column)
        return np.delete(table, col, axis=1).astype(np.float32), table[:, col]
    return table.astype(np.float32), None


__all__ = ["read_inputs"]
