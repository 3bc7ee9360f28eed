"""`RawData`: what a reader found on disk, before labels are encoded and splits are carved.

Every reader (CIFAR batches, an image folder, .npz/.npy/.csv files, the built-in sets) returns one,
so `load_data` treats them all alike and the Python API (`read_cifar10`, `read_image_folder`, ...)
hands the same object to people who want the arrays themselves.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class RawData:
    """Arrays and what is known about them.

    Attributes:
        x, y: examples (example axis first) and their labels as stored (integers, or strings such
            as "cat"; `load_data` maps them to 0..C-1).
        x_test, y_test: the source's own test split, or None (then `load_data` holds one out).
        class_names: names of classes 0..C-1 when the source defines them (CIFAR's label_names,
            image-folder names), else None.
        source: what was read, for people ("CIFAR-10 python batches in /data/cifar-10-batches-py").
        layout: the axis order the arrays are in ("nchw", "ncl", "flat", ...) once arranged.
        notes: sentences for the data description (a detected layout, skipped files, ...).

    Example:
        >>> d = read_cifar10("cifar-10-batches-py")
        >>> d.x.shape, d.x.dtype, d.class_names[:2]
        ((50000, 3, 32, 32), dtype('uint8'), ['airplane', 'automobile'])
    """

    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    class_names: list[str] | None = None
    source: str = ""
    layout: str | None = None
    notes: list[str] = field(default_factory=list)
