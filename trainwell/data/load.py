"""`load_data`: any source (see trainwell/data/sources.py) -> a checked, split `DataBundle`.

Steps: read the source; for array files bring x to channels first (`data.layout`, detected and
stated when absent; `data.shape` for flat rows); check x (finite real numbers, one label per
example); map labels to 0..C-1 (trainwell/data/labels.py: a label of 10¹² makes one class, not
10¹² of them); hold out a test split when the source has none (`test_fraction`, seed 0, so it does
not move with the run's seed); carve the validation split (`val_fraction`, the run's seed; 0 means
none: `bundle.has_val` is False). x becomes float32 with values as stored (pixels stay in
[0, 255]: scaling is the recipe's `preprocess` job), y int64.

Example:
    >>> b = load_data("cifar10", "data/cifar-10-batches-py", val_fraction=0.1)
    >>> print(b.describe())
    cifar10 (CIFAR-10 python batches in data/cifar-10-batches-py): 45000 train / 5000 val / 10000 test, ...
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from trainwell.data.bundle import DataBundle
from trainwell.data.labels import encode_labels
from trainwell.data.layout import NDIM, RESULT, arrange
from trainwell.data.sources import ARRAY_FORMATS, read_source
from trainwell.data.split import train_val_split
from trainwell.data.validate import check_arrays
from trainwell.errors import UserError


SMALL_INTS = (np.uint8, np.int8, np.int16)


def _tensor(x: np.ndarray) -> torch.Tensor:
    """x as a tensor: 8/16-bit integers (pixels) as they are, so the splits copy 2-4× fewer bytes
    (CIFAR-10: 150 MB instead of 600 MB) and become float32 after; anything else as float32 now."""
    x = np.ascontiguousarray(x)
    return torch.from_numpy(x) if x.dtype.type in SMALL_INTS else torch.from_numpy(x).to(torch.float32)


def load_data(
    name: str | None = "mnist1d",
    path: str | Path | None = None,
    *,
    label_column: str = "label",
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
    layout: str | None = None,
    shape: Sequence[int] | None = None,
    size: Sequence[int] | int | None = None,
    channels: int | None = None,
    coarse_labels: bool = False,
) -> DataBundle:
    """Load a built-in data set (`name`) or data at `path`, check it, split off val (and test).

    Args:
        name: a DATASETS name (mnist1d, digits, cifar10, cifar100, images, npz, npy, csv); with a
            `path` and no name (or a built-in name) the format is detected from the path.
        path: a file or folder (see trainwell/data/sources.py for what each format expects).
        label_column: the CSV column holding the labels.
        val_fraction, test_fraction, seed: the splits (see the module docstring).
        layout, shape: axis order and per-example shape of .npz/.npy/.csv arrays (trainwell/data/layout.py).
        size, channels: image folders: resize to [H, W]; 3 = RGB (default), 1 = greyscale.
        coarse_labels: CIFAR-100: the 20 superclasses instead of the 100 classes.
    """
    options = {"layout": layout, "shape": shape, "size": size, "channels": channels, "coarse_labels": coarse_labels}
    fmt, raw = read_source(name, path, options, label_column)
    source = raw.source or fmt
    x, xt, notes = raw.x, raw.x_test, list(raw.notes)
    result_layout = raw.layout
    if fmt in ARRAY_FORMATS:
        if x.ndim < 2:
            raise UserError(f"{source}: x must have an example axis and at least one feature axis, got shape {x.shape}")
        quiet = layout is None and shape is None and x.ndim == 2  # flat rows: nothing detected, nothing to state
        x, stored, said = arrange(x, layout, shape, source)
        if xt is not None:
            if xt.ndim != (2 if shape is not None else NDIM[stored]):
                raise UserError(f"{source}: x_test has shape {xt.shape}, x has {raw.x.shape}")
            xt, _, _ = arrange(xt, stored if shape is None else layout, shape, f"{source} (test)")
        result_layout = RESULT[stored]
        if not quiet:
            notes.insert(0, said)
    check_arrays(x, raw.y, f"{source} (train)")
    if xt is not None:
        check_arrays(xt, raw.y_test, f"{source} (test)")
        if xt.shape[1:] != x.shape[1:]:
            raise UserError(f"{source}: x_test examples have shape {xt.shape[1:]}, x has {x.shape[1:]}")
    y, yt, class_names, note = encode_labels(raw.y, raw.y_test, raw.class_names, source)
    if note:
        notes.append(note)
    num_classes = len(class_names) if class_names is not None else int(y.max()) + 1
    x_t, y_t = _tensor(x), torch.from_numpy(y)
    if xt is None:
        if not 0.0 < test_fraction < 1.0:
            raise UserError(f"data.test_fraction must be in (0, 1) when {source} has no test split, got {test_fraction}")
        x_t, y_t, xt_t, yt_t = train_val_split(x_t, y_t, test_fraction, seed=0)
        notes.append(f"test split: {test_fraction:g} held out (seed 0)")
    else:
        xt_t, yt_t = _tensor(xt), torch.from_numpy(yt)
    x_tr, y_tr, x_va, y_va = train_val_split(x_t, y_t, val_fraction, seed)
    x_tr, x_va, xt_t = (t.to(torch.float32) for t in (x_tr, x_va, xt_t))
    if fmt in ("cifar10", "cifar100") or path is None:
        short = fmt
    else:
        p = Path(path)
        short = p.parent.name if fmt == "npy" and p.name == "x.npy" else p.stem
    return DataBundle(short, x_tr, y_tr, x_va, y_va, xt_t, yt_t, num_classes, class_names=class_names,
                      source=source, layout=result_layout, notes=notes)
