"""CSV tables: a header row, one example per line, a label column, every other column a number.

    a,b,label          The label column (`data.label_column`, default "label") holds class
    0.1,2.0,cat        indices or names ("cat"); other columns are features (float). Blank
    0.4,1.5,dog        lines are skipped. Images stored as flat rows become images with
                       `data.shape = [C, H, W]` (see trainwell/data/layout.py).

Problems are named by line and column: a header with no data rows, a line with the wrong number of
fields, a cell that is not a number, labels that mix numbers and names. A UTF-8 byte-order mark
(as Excel writes) is ignored. Reading costs about the same as `np.loadtxt` (one `float()` a cell).
"""
from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np

from trainwell.data.raw import RawData
from trainwell.errors import UserError, did_you_mean


def _is_blank(row: list[str]) -> bool:
    return all(not cell.strip() for cell in row)


def _bad_cell(path: Path, line_no: int, row: list[str], header: list[str], skip: int) -> UserError:
    for j, cell in enumerate(row):
        if j == skip:
            continue
        try:
            float(cell)
        except ValueError:
            what = "an empty cell" if not cell.strip() else f"{cell.strip()!r} is not a number"
            return UserError(f"{path}: line {line_no}, column {header[j]!r} (column {j + 1} of {len(header)}): {what}")
    return UserError(f"{path}: line {line_no}: a value is not a number")  # pragma: no cover - float failed above


def _labels(path: Path, cells: list[str], lines: list[int], column: str) -> np.ndarray:
    """Numeric labels as float64, or names as str; mixed numbers and names are an error."""
    numeric = np.zeros(len(cells), dtype=bool)
    values = np.zeros(len(cells), dtype=np.float64)
    for i, cell in enumerate(cells):
        try:
            values[i] = float(cell)
            numeric[i] = True
        except ValueError:
            pass
    if numeric.all():
        return values
    if not numeric.any():
        return np.asarray(cells, dtype=str)
    first_name, first_number = int(np.argmin(numeric)), int(np.argmax(numeric))
    raise UserError(
        f"{path}: the label column {column!r} mixes numbers (line {lines[first_number]}: {cells[first_number]!r}) and "
        f"names (line {lines[first_name]}: {cells[first_name]!r}); use one or the other"
    )


def _header(path: Path) -> tuple[list[str], int]:
    """(column names, physical lines up to and including the header) of the first non-blank row."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            for row in reader:
                if not _is_blank(row):
                    return [h.strip() for h in row], reader.line_num
    except (OSError, UnicodeDecodeError, csv.Error):
        pass
    return [], 0


def _fast_table(path: Path, label_column: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(x, y) by np.loadtxt when every cell is a number and the table is regular, else None."""
    header, skip = _header(path)
    if label_column not in header or len(header) < 2:
        return None
    try:
        with warnings.catch_warnings():  # "input contained no data": the line-by-line reader says it better
            warnings.simplefilter("ignore", UserWarning)
            table = np.loadtxt(path, delimiter=",", skiprows=skip, dtype=np.float64, ndmin=2, encoding="utf-8-sig",
                               comments=None, quotechar='"')
    except (ValueError, OSError, UnicodeDecodeError):
        return None
    if table.shape[0] == 0 or table.shape[1] != len(header):
        return None
    col = header.index(label_column)
    return np.delete(table, col, axis=1), table[:, col].copy()


def read_csv(path: str | Path, label_column: str = "label", fast: bool = True) -> RawData:
    """x (float64 N×F, columns in header order without the label) and y from a CSV with a header.

    `fast=False` skips the `np.loadtxt` attempt (the line-by-line reader alone; same result)."""
    path = Path(path)
    table = _fast_table(path, label_column) if fast else None
    if table is not None:
        return RawData(table[0], table[1], source=f"CSV {path}", layout="flat")
    header: list[str] | None = None
    rows: list[list[float]] = []
    label_cells: list[str] = []
    lines: list[int] = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            try:
                for row in reader:
                    if header is None:
                        if _is_blank(row):
                            continue
                        header = [h.strip() for h in row]
                        if label_column not in header:
                            raise UserError(
                                f"{path}: no label column {label_column!r}{did_you_mean(label_column, header)}; "
                                f"columns: {', '.join(header)} (set data.label_column)"
                            )
                        col = header.index(label_column)
                        continue
                    if _is_blank(row):
                        continue
                    if len(row) != len(header):
                        raise UserError(f"{path}: line {reader.line_num} has {len(row)} fields, the header has {len(header)}")
                    try:
                        rows.append(list(map(float, row[:col] + row[col + 1:])))
                    except ValueError:
                        raise _bad_cell(path, reader.line_num, row, header, col) from None
                    label_cells.append(row[col].strip())
                    lines.append(reader.line_num)
            except csv.Error as exc:
                raise UserError(f"{path}: line {reader.line_num}: not valid CSV ({exc})") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read it as CSV text ({exc})") from exc
    if header is None:
        raise UserError(f"{path}: the file is empty; expected a header row and data rows")
    if not rows:
        raise UserError(f"{path}: has a header ({', '.join(header)}) but no data rows")
    if len(header) < 2:
        raise UserError(f"{path}: has only the label column {label_column!r}; features are the other columns")
    return RawData(np.asarray(rows, dtype=np.float64), _labels(path, label_cells, lines, label_column),
                   source=f"CSV {path}", layout="flat")
