"""Data sets by name: the built-in ones (MNIST-1D, sklearn digits) and the formats read from a path.

`DATASETS` holds the built-ins (no path), `FORMATS` the readers of `data.path`; `data.name` is
either. When `data.name` is absent (or a built-in) and a path is given, the format is detected
from the path:

    name       data.path                                             options
    mnist1d    (none: built offline, cached)
    digits     (none: sklearn)
    cifar10    cifar-10-batches-py/ or cifar-10-python.tar.gz
    cifar100   cifar-100-python/ or cifar-100-python.tar.gz          coarse_labels
    images     a folder of class subfolders (or train/ + test/)     size, channels
    npz        file.npz (x, y[, x_test, y_test, class_names])       layout, shape
    npy        a folder with x.npy, y.npy (or its x.npy)            layout, shape
    csv        file.csv (header, label column)                      label_column, layout, shape

An option given to a source it does not apply to is an error, not silently ignored.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from trainwell.data.cache import load_npz_cached, save_npz_atomic, usable_cache_dir
from trainwell.data.cifar import is_archive, looks_like_cifar10, looks_like_cifar100, read_cifar10, read_cifar100
from trainwell.data.image_folder import looks_like_image_folder, read_image_folder
from trainwell.data.numpy_files import read_npy, read_npz
from trainwell.data.raw import RawData
from trainwell.data.tables import read_csv
from trainwell.errors import UserError, did_you_mean
from trainwell.io import regular_file
from trainwell.registry import Entry, Registry

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]
KEYS = ("x", "y", "x_test", "y_test")


def mnist1d() -> Arrays:
    """MNIST-1D (Greydanus 2020): 4000 train / 1000 test signals of length 40, 10 classes.

    Built offline by the `mnist1d` package with its default arguments, then cached under
    `usable_cache_dir()/mnist1d.npz` (written atomically; not cached when no cache directory is
    writable). Signals come as N×1×40 (one channel).
    """
    root = usable_cache_dir()
    path = None if root is None else root / "mnist1d.npz"
    arrays = None if path is None else load_npz_cached(path, KEYS)
    if arrays is None:
        from mnist1d.data import get_dataset_args, make_dataset

        raw = make_dataset(get_dataset_args())
        arrays = {k: np.asarray(raw[k]) for k in KEYS}
        if path is not None:
            try:
                save_npz_atomic(path, **arrays)
            except OSError:  # a full disk: the data are built, only the cache is lost
                pass
    x, xt = arrays["x"][:, None, :], arrays["x_test"][:, None, :]
    return x, arrays["y"], xt, arrays["y_test"]


def digits() -> Arrays:
    """sklearn's 8×8 handwritten digits (1797 images, values 0..16) as N×1×8×8; no test split."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.images[:, None, :, :].astype(np.float32), d.target, None, None


BUILT_IN_LAYOUT = {"mnist1d": "ncl", "digits": "nchw"}

DATASETS = Registry("data set")
DATASETS.add("mnist1d", mnist1d, "MNIST-1D: 4000/1000 signals of length 40, 10 classes (built offline)")
DATASETS.add("digits", digits, "sklearn digits: 1797 8×8 images, 10 classes (20% held out as test)")

# formats read from data.path: a registry of their own, since each needs a path to train from
FORMATS = Registry("data format")
FORMATS.add("cifar10", read_cifar10, "CIFAR-10 python version at data.path (cifar-10-batches-py/ or its .tar.gz)")
FORMATS.add("cifar100", read_cifar100, "CIFAR-100 python version at data.path (fine labels; coarse_labels = true for 20)")
FORMATS.add("images", read_image_folder, "image folder at data.path: one subfolder per class (needs Pillow)")
FORMATS.add("npz", read_npz, "NumPy .npz at data.path: x, y[, x_test, y_test, class_names]")
FORMATS.add("npy", read_npy, "NumPy .npy files x.npy, y.npy[, x_test.npy, y_test.npy] in the folder data.path")
FORMATS.add("csv", read_csv, "CSV at data.path: a header row, a label column, numeric features")


def entry(name: str) -> Entry:
    """The DATASETS or FORMATS entry of `data.name`; an unknown name lists both."""
    for registry in (DATASETS, FORMATS):
        if name in registry:
            return registry.get(name)
    names = [*DATASETS.names(), *FORMATS.names()]
    raise UserError(f"unknown data set {name!r}{did_you_mean(name, names)}; valid names: {', '.join(names)}")


# the options each source takes (label_column has a default and is simply unused elsewhere)
OPTIONS: dict[str, frozenset[str]] = {
    "mnist1d": frozenset(), "digits": frozenset(), "cifar10": frozenset(),
    "cifar100": frozenset({"coarse_labels"}), "images": frozenset({"size", "channels"}),
    "npz": frozenset({"layout", "shape"}), "npy": frozenset({"layout", "shape"}), "csv": frozenset({"layout", "shape"}),
}
ARRAY_FORMATS = frozenset({"npz", "npy", "csv"})


def detect_format(path: Path) -> str:
    """The DATASETS name for what `path` holds (see the module docstring)."""
    if not path.exists():
        raise UserError(f"data path {path} does not exist")
    if not path.is_dir():
        regular_file(path, "data file")  # /dev/zero would be read forever, a FIFO blocks
    if path.is_dir():
        if looks_like_cifar10(path):
            return "cifar10"
        if looks_like_cifar100(path):
            return "cifar100"
        if (path / "x.npy").is_file():
            return "npy"
        if looks_like_image_folder(path):
            return "images"
        raise UserError(
            f"data path {path}: cannot tell what this folder holds; expected CIFAR python batches "
            "(batches.meta, data_batch_1..5, test_batch), x.npy + y.npy, or one subfolder of images per class"
        )
    suffix = path.suffix.lower()
    if suffix in (".npz", ".npy", ".csv"):
        return suffix[1:]
    if is_archive(path):
        lowered = path.name.lower()
        if "cifar-100" in lowered or "cifar100" in lowered:
            return "cifar100"
        if "cifar-10" in lowered or "cifar10" in lowered:
            return "cifar10"
        raise UserError(f"data path {path}: an archive; name its format with data.name = \"cifar10\" or \"cifar100\"")
    raise UserError(f"data file {path}: unsupported type {suffix!r}; use .npz, .npy or .csv, a CIFAR python "
                    "folder or .tar.gz, or an image folder (or set data.name)")


def read_source(name: str | None, path: str | Path | None, options: dict[str, Any],
                label_column: str = "label") -> tuple[str, RawData]:
    """(format name, RawData) for `data.name` / `data.path`; options that do not apply are refused.

    `options` holds layout, shape, size, channels, coarse_labels; None / False means not given.
    A path with a built-in name (mnist1d, digits) reads the path: the name is a default.
    """
    if path is not None and (name is None or name in BUILT_IN_LAYOUT):
        fmt = detect_format(Path(path))
    elif name is not None:
        fmt = entry(name).name
        if fmt not in BUILT_IN_LAYOUT and path is None:
            raise UserError(f"data.name = {fmt!r} reads files: set data.path ({entry(fmt).help})")
        if path is not None and not Path(path).exists():
            raise UserError(f"data path {path} does not exist")
        if path is not None and not Path(path).is_dir():
            regular_file(path, "data file")
    else:
        raise UserError("data: give data.name (a built-in data set) or data.path (a file or folder of data)")
    given = sorted(k for k, v in options.items() if v is not None and v is not False)
    extra = [k for k in given if k not in OPTIONS[fmt]]
    if extra:
        takes = ", ".join(f"data.{o}" for o in sorted(OPTIONS[fmt])) or "none of these"
        raise UserError(f"data.{extra[0]} does not apply to {fmt} data ({entry(fmt).help}); "
                        f"{fmt} takes {takes}")
    reader: Callable[..., Any] = entry(fmt).constructor
    if fmt in BUILT_IN_LAYOUT:
        x, y, xt, yt = reader()
        return fmt, RawData(x, y, xt, yt, source=fmt, layout=BUILT_IN_LAYOUT[fmt])
    if fmt == "csv":
        return fmt, reader(path, label_column)
    if fmt == "cifar100":
        return fmt, reader(path, coarse=bool(options.get("coarse_labels")))
    if fmt == "images":
        channels = options.get("channels")
        return fmt, reader(path, size=options.get("size"), channels=3 if channels is None else channels)
    return fmt, reader(path)
