"""CIFAR-10 and CIFAR-100 in their "python version" (Krizhevsky 2009), read without running code.

CIFAR-10 (`cifar-10-python.tar.gz`, unpacked as `cifar-10-batches-py/`):

    data_batch_1 .. data_batch_5   training batches, 10000 images each
    test_batch                     10000 test images
    batches.meta                   {"label_names": ["airplane", ..., "truck"], ...}

CIFAR-100 (`cifar-100-python/`): `train` (50000), `test` (10000) and `meta` with
`fine_label_names` (100) and `coarse_label_names` (20 superclasses).

Each batch is a pickled dict: "data" is a uint8 array of N×3072 — per image the 1024 red, then
1024 green, then 1024 blue values of a 32×32 image, row by row — so `data.reshape(N, 3, 32, 32)`
is N×C×H×W; "labels" (CIFAR-100: "fine_labels", "coarse_labels") is a list of N ints. The files
are Python 2 pickles; `load_plain_pickle` reads them with a restricted unpickler (no code runs).
The folder or the downloaded `.tar.gz` itself may be given. Pixels stay in [0, 255]: scaling and
centering are the recipe's `preprocess` job.

Example:
    >>> d = read_cifar10("cifar-10-batches-py")
    >>> d.x.shape, d.x_test.shape, d.class_names[0]
    ((50000, 3, 32, 32), (10000, 3, 32, 32), 'airplane')
"""
from __future__ import annotations

import tarfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from trainwell.data.raw import RawData
from trainwell.data.safe_pickle import load_plain_pickle
from trainwell.errors import UserError

CIFAR10_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_FILES = (*CIFAR10_TRAIN, "test_batch", "batches.meta")
CIFAR100_FILES = ("train", "test", "meta")
PIXELS = 3 * 32 * 32
ARCHIVES = (".tar.gz", ".tgz", ".tar")


def is_archive(path: Path) -> bool:
    return path.name.lower().endswith(ARCHIVES)


def looks_like_cifar10(path: Path) -> bool:
    """A folder holding batches.meta and at least one CIFAR-10 batch."""
    return path.is_dir() and (path / "batches.meta").is_file() and any(
        (path / f).is_file() for f in (*CIFAR10_TRAIN, "test_batch"))


def looks_like_cifar100(path: Path) -> bool:
    """A folder holding CIFAR-100's `meta` and `train` or `test` files."""
    return path.is_dir() and (path / "meta").is_file() and any((path / f).is_file() for f in ("train", "test"))


def _load_all(path: Path, names: Iterable[str], dataset: str) -> dict[str, Any]:
    """name -> unpickled dict, from a folder or a .tar(.gz) archive (members found by file name)."""
    names = tuple(names)
    what = f"a {dataset} python batch"
    found: dict[str, Any] = {}
    if path.is_dir():
        for name in names:
            if (path / name).is_file():
                found[name] = load_plain_pickle(path / name, what=what)
    elif path.is_file() and is_archive(path):
        try:
            with tarfile.open(path) as archive:
                for member in archive:  # one pass in archive order: a .tar.gz cannot seek back cheaply
                    base = member.name.rsplit("/", 1)[-1]
                    if member.isfile() and base in names and base not in found:
                        handle = archive.extractfile(member)
                        found[base] = load_plain_pickle(f"{path}:{member.name}", handle, what=what)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise UserError(f"{path}: cannot read it as a .tar(.gz) archive ({exc})") from exc
    else:
        raise UserError(f"{dataset}: {path} is neither a folder nor a .tar.gz archive of the python version")
    missing = [n for n in names if n not in found]
    if missing:
        raise UserError(
            f"{dataset} at {path}: missing {', '.join(missing)}; the python version holds "
            f"{', '.join(names)} (download it again or point data.path at the unpacked folder)"
        )
    return found


def _as_str_keys(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise UserError(f"{where}: expected a pickled dict, found {type(value).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else str(k): v for k, v in value.items()}


def _names(meta: Any, key: str, where: str) -> list[str]:
    meta = _as_str_keys(meta, where)
    names = meta.get(key)
    if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, (str, bytes)) for n in names):
        raise UserError(f"{where}: needs {key!r}, a list of class-name strings; found keys {sorted(meta)}")
    return [n.decode("utf-8", "replace") if isinstance(n, bytes) else n for n in names]


def _batch(value: Any, where: str, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 N×3×32×32 images, int64 labels) of one batch dict, checked."""
    batch = _as_str_keys(value, where)
    missing = [k for k in ("data", label_key) if k not in batch]
    if missing:
        raise UserError(f"{where}: a batch needs keys 'data' and {label_key!r}; missing {missing}, found {sorted(batch)}")
    data = batch["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != PIXELS:
        found = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise UserError(f"{where}: 'data' must be a uint8 array of N×{PIXELS} (3 planes of 32×32), found {found}")
    labels = np.asarray(batch[label_key])
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer) or len(labels) != len(data):
        raise UserError(
            f"{where}: {label_key!r} must be {len(data)} integers (one per image), found "
            f"{labels.size} value(s) of dtype {labels.dtype}"
        )
    return data.reshape(len(data), 3, 32, 32), labels.astype(np.int64)


def _stack(batches: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])


def read_cifar10(path: str | Path) -> RawData:
    """CIFAR-10 from `cifar-10-batches-py/` (or `cifar-10-python.tar.gz`): uint8 N×3×32×32 + names."""
    path = Path(path)
    files = _load_all(path, CIFAR10_FILES, "CIFAR-10")
    names = _names(files["batches.meta"], "label_names", f"{path}/batches.meta")
    x, y = _stack([_batch(files[n], f"{path}/{n}", "labels") for n in CIFAR10_TRAIN])
    xt, yt = _batch(files["test_batch"], f"{path}/test_batch", "labels")
    return RawData(x, y, xt, yt, class_names=names, source=f"CIFAR-10 python batches in {path}", layout="nchw")


def read_cifar100(path: str | Path, coarse: bool = False) -> RawData:
    """CIFAR-100 from `cifar-100-python/` (or its .tar.gz): the 100 fine classes, or the 20 coarse ones."""
    path = Path(path)
    files = _load_all(path, CIFAR100_FILES, "CIFAR-100")
    kind = "coarse" if coarse else "fine"
    names = _names(files["meta"], f"{kind}_label_names", f"{path}/meta")
    x, y = _batch(files["train"], f"{path}/train", f"{kind}_labels")
    xt, yt = _batch(files["test"], f"{path}/test", f"{kind}_labels")
    return RawData(x, y, xt, yt, class_names=names, layout="nchw",
                   source=f"CIFAR-100 python batches in {path}, {kind} labels")
