"""Class labels: checked, and mapped to 0..C-1 when they are anything else.

A classifier's head has one output per class, so the number of classes must come from the classes
that exist, never from the largest label (a single label of 10¹² would ask for a 10¹²-wide head).
The rule (`encode_labels`):

* The source names its classes (CIFAR's label_names, image-folder names, an .npz `class_names`):
  C = len(names) and every label must lie in [0, C).
* Otherwise the classes are the distinct training labels. Labels that are exactly 0..C-1 are kept;
  any other set — 1..10, {-1, 1}, {3, 7, 10¹²}, strings such as "cat" — is mapped to 0..C-1 in
  sorted order, the original values become the class names, and the mapping is stated in the data
  description. A test label that no training example has is an error (its class cannot be learned).
* At least 2 classes and at most MAX_CLASSES (a column of prices or IDs is not a label column).

Example:
    >>> y, yt, names, note = encode_labels(np.array([1, 2, 10]), None, None, "d.csv")
    >>> y.tolist(), names
    ([0, 1, 2], ['1', '2', '10'])
"""
from __future__ import annotations

import numpy as np

from trainwell.errors import UserError

MAX_CLASSES = 100_000


def _as_labels(y: np.ndarray, where: str) -> np.ndarray:
    """Integer (int64) or string labels; a UserError for anything else."""
    if y.ndim != 1:
        raise UserError(f"{where}: y must be a 1-D array of class labels, got shape {y.shape}")
    if y.dtype.kind in "US":
        return y.astype(str)
    if y.dtype.kind == "b":
        return y.astype(np.int64)
    if y.dtype.kind == "f":
        if not np.isfinite(y).all() or (y != np.round(y)).any():
            bad = y[~np.isfinite(y) | (y != np.round(y))][0]
            raise UserError(f"{where}: labels y must be integers (class indices) or names, found {bad.item()!r}")
        if np.abs(y).max(initial=0) >= 2**53:
            raise UserError(f"{where}: a float label of {np.abs(y).max():g} is beyond exact integers; store labels as integers")
        return y.astype(np.int64)
    if y.dtype.kind in "iu":
        if y.dtype == np.uint64 and y.max(initial=0) > np.iinfo(np.int64).max:
            raise UserError(f"{where}: label {y.max()} does not fit in int64")
        return y.astype(np.int64)
    raise UserError(f"{where}: labels y must be integers or strings, got dtype {y.dtype}")


def _shown(values: np.ndarray, limit: int = 6) -> str:
    items = [str(v) for v in values[:limit]]
    return "{" + ", ".join(items) + (", ..." if len(values) > limit else "") + "}"


def encode_labels(
    y: np.ndarray, y_test: np.ndarray | None, class_names: list[str] | None, source: str
) -> tuple[np.ndarray, np.ndarray | None, list[str] | None, str | None]:
    """(y, y_test as int64 in 0..C-1, class names or None, a sentence stating a mapping or None)."""
    y = _as_labels(y, f"{source} (train)")
    yt = None if y_test is None else _as_labels(y_test, f"{source} (test)")
    if class_names is not None:
        c = len(class_names)
        if c < 2:
            raise UserError(f"{source}: needs at least 2 classes, the source names {c}: {class_names}")
        for labels, split in ((y, "train"), (yt, "test")):
            if labels is None:
                continue
            if labels.dtype.kind == "U":
                raise UserError(f"{source} ({split}): labels are strings but the source names its classes; store indices")
            out = (labels < 0) | (labels >= c)
            if out.any():
                raise UserError(f"{source} ({split}): label {labels[out][0].item()} is outside [0, {c}) "
                                f"(the source names {c} classes)")
        return y, yt, list(class_names), None
    if len(y) == 0:
        raise UserError(f"{source}: the training set is empty")
    values = np.unique(y)
    if len(values) < 2:
        raise UserError(f"{source}: needs at least 2 classes, but every training label is {values[0].item()!r}")
    if len(values) > MAX_CLASSES:
        raise UserError(f"{source}: {len(values)} distinct labels, more than {MAX_CLASSES} classes; "
                        "is this a label column (not an ID or a measurement)?")
    if yt is not None:
        if (yt.dtype.kind == "U") != (y.dtype.kind == "U"):
            raise UserError(f"{source}: training labels are {'strings' if y.dtype.kind == 'U' else 'integers'} "
                            f"but test labels are {'strings' if yt.dtype.kind == 'U' else 'integers'}")
        unseen = ~np.isin(yt, values)
        if unseen.any():
            raise UserError(f"{source} (test): label {yt[unseen][0].item()!r} never occurs in the training labels "
                            f"{_shown(values)}; a class without training examples cannot be learned")
    if values.dtype.kind != "U" and values[0] == 0 and values[-1] == len(values) - 1:
        return y, yt, None, None  # already 0..C-1
    mapped = np.searchsorted(values, y)
    mapped_t = None if yt is None else np.searchsorted(values, yt)
    names = [str(v) for v in values]
    note = f"labels {_shown(values)} mapped to 0..{len(values) - 1} in sorted order (class names keep the originals)"
    return mapped.astype(np.int64), None if mapped_t is None else mapped_t.astype(np.int64), names, note
