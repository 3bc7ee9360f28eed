"""Data sources by name (MNIST-1D, sklearn digits) or by file (.npz, .csv)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from trainwell.data.bundle import DataBundle
from trainwell.data.cache import cache_dir, load_npz_cached, save_npz_atomic
from trainwell.data.split import train_val_split
from trainwell.data.validate import check_arrays
from trainwell.errors import UserError
from trainwell.registry import Registry

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]
KEYS = ("x", "y", "x_test", "y_test")


def mnist1d() -> Arrays:
    """MNIST-1D (Greydanus 2020): 4000 train / 1000 test signals of length 40, 10 classes.

    Built offline by the `mnist1d` package with its default arguments, then cached under
    `cache_dir()/mnist1d.npz` (written atomically). Signals come as N×1×40 (one channel).
    """
    path = cache_dir() / "mnist1d.npz"
    arrays = load_npz_cached(path, KEYS)
    if arrays is None:
        from mnist1d.data import get_dataset_args, make_dataset

        raw = make_dataset(get_dataset_args())
        arrays = {k: np.asarray(raw[k]) for k in KEYS}
        save_npz_atomic(path, **arrays)
    x, xt = arrays["x"][:, None, :], arrays["x_test"][:, None, :]
    return x, arrays["y"], xt, arrays["y_test"]


def digits() -> Arrays:
    """sklearn's 8×8 handwritten digits (1797 images, values 0..16) as N×1×8×8; no test split."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.images[:, None, :, :].astype(np.float32), d.target, None, None


DATASETS = Registry("data set")
DATASETS.add("mnist1d", mnist1d, "MNIST-1D: 4000/1000 signals of length 40, 10 classes (built offline)")
DATASETS.add("digits", digits, "sklearn digits: 1797 8×8 images, 10 classes (20% held out as test)")


def read_npz(path: Path) -> Arrays:
    """An .npz with arrays `x`, `y` and optionally `x_test`, `y_test`."""
    try:
        with np.load(path, allow_pickle=False) as data:
            files = set(data.files)
            missing = [k for k in ("x", "y") if k not in files]
            if missing:
                raise UserError(f"{path}: missing array(s) {missing}; found {sorted(files)} (expected x, y, optional x_test, y_test)")
            if ("x_test" in files) != ("y_test" in files):
                raise UserError(f"{path}: has only one of x_test / y_test; give both or neither")
            get = lambda k: data[k] if k in files else None  # noqa: E731
            return get("x"), get("y"), get("x_test"), get("y_test")
    except UserError:
        raise
    except Exception as exc:  # zipfile/pickle/format problems: a corrupt or foreign file
        raise UserError(f"{path}: cannot read it as a NumPy .npz archive ({type(exc).__name__}: {exc})") from exc


def read_csv(path: Path, label_column: str) -> Arrays:
    """A .csv with a header row; `label_column` holds integer labels, every other column a feature."""
    import csv

    try:
        with open(path, newline="") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read it as CSV text ({exc})") from exc
    if len(rows) < 2:
        raise UserError(f"{path}: needs a header row and at least one data row, found {len(rows)} row(s)")
    header = [h.strip() for h in rows[0]]
    if label_column not in header:
        from trainwell.errors import did_you_mean

        raise UserError(
            f"{path}: no label column {label_column!r}{did_you_mean(label_column, header)}; "
            f"columns: {', '.join(header)} (set data.label_column)"
        )
    col = header.index(label_column)
    values = []
    for line_no, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise UserError(f"{path}: line {line_no} has {len(row)} fields, the header has {len(header)}")
        try:
            values.append([float(v) for v in row])
        except ValueError as exc:
            raise UserError(f"{path}: line {line_no}: non-numeric value ({exc})") from exc
    table = np.asarray(values, dtype=np.float64)
    y = table[:, col]
    x = np.delete(table, col, axis=1)
    return x, y, None, None


def read_file(path: str | Path, label_column: str = "label") -> Arrays:
    path = Path(path)
    if not path.exists():
        raise UserError(f"data file {path} does not exist")
    if path.suffix == ".npz":
        return read_npz(path)
    if path.suffix == ".csv":
        return read_csv(path, label_column)
    raise UserError(f"data file {path}: unsupported type {path.suffix!r}; use .npz (x, y[, x_test, y_test]) or .csv")


def load_data(
    name: str | None = "mnist1d",
    path: str | Path | None = None,
    *,
    label_column: str = "label",
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> DataBundle:
    """Load a built-in data set (`name`) or a file (`path`), validate it, split off val (and test).

    When the source has no test split, `test_fraction` of it is held out with a fixed seed (0),
    so the test set does not change with the run's seed. The validation split uses `seed`.
    """
    if path is not None:
        source = str(path)
        x, y, xt, yt = read_file(path, label_column)
    elif name is not None:
        source = name
        x, y, xt, yt = DATASETS.get(name).constructor()
    else:
        raise UserError("data: give data.name (a built-in data set) or data.path (a .npz or .csv file)")
    num_classes = check_arrays(x, y, f"{source} (train)")
    if xt is not None:
        num_classes = max(num_classes, check_arrays(xt, yt, f"{source} (test)"))
        if xt.shape[1:] != x.shape[1:]:
            raise UserError(f"{source}: x_test examples have shape {xt.shape[1:]}, x has {x.shape[1:]}")
    x_t = torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float32)
    y_t = torch.as_tensor(y.astype(np.int64))
    if xt is None:
        if not 0.0 < test_fraction < 1.0:
            raise UserError(f"data.test_fraction must be in (0, 1) when {source} has no test split, got {test_fraction}")
        x_t, y_t, xt_t, yt_t = train_val_split(x_t, y_t, test_fraction, seed=0)
    else:
        xt_t = torch.as_tensor(np.ascontiguousarray(xt), dtype=torch.float32)
        yt_t = torch.as_tensor(yt.astype(np.int64))
    x_tr, y_tr, x_va, y_va = train_val_split(x_t, y_t, val_fraction, seed)
    return DataBundle(Path(source).stem if path is not None else source, x_tr, y_tr, x_va, y_va, xt_t, yt_t, num_classes)
