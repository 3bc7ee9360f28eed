"""Small data sets built on the fly in tmp_path: CIFAR python batches written byte for byte the way
the real files are (Python 2 pickles, protocol 2), image folders and array files."""
from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
import pytest


def _int(v: int) -> bytes:
    if 0 <= v < 256:
        return b"K" + bytes([v])
    if 0 <= v < 65536:
        return b"M" + struct.pack("<H", v)
    return b"J" + struct.pack("<i", v)


def _str(s: str | bytes) -> bytes:
    """A Python 2 `str` (SHORT_BINSTRING / BINSTRING): what cPickle wrote for text and raw bytes."""
    b = s.encode("latin1") if isinstance(s, str) else s
    return (b"U" + bytes([len(b)]) if len(b) < 256 else b"T" + struct.pack("<I", len(b))) + b


def _array(a: np.ndarray) -> bytes:
    """numpy.core.multiarray._reconstruct(ndarray, (0,), 'b') + __setstate__, as NumPy 1 under Python 2."""
    assert a.dtype == np.uint8
    shape = b"(" + b"".join(_int(d) for d in a.shape) + b"t"
    dtype = (b"cnumpy\ndtype\n" + _str("u1") + _int(0) + _int(1) + b"\x87R"
             + b"(" + _int(3) + _str("|") + b"NNN" + b"J\xff\xff\xff\xffJ\xff\xff\xff\xff" + _int(0) + b"tb")
    return (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n" + _int(0) + b"\x85" + _str("b") + b"\x87R"
            + b"(" + _int(1) + shape + dtype + b"\x89" + _str(a.tobytes()) + b"tb")


def _value(v) -> bytes:
    if isinstance(v, dict):
        return b"}(" + b"".join(_value(k) + _value(x) for k, x in v.items()) + b"u"
    if isinstance(v, list):
        return b"](" + b"".join(_value(x) for x in v) + b"e"
    if isinstance(v, np.ndarray):
        return _array(v)
    if isinstance(v, int):
        return _int(v)
    return _str(v)


def py2_pickle(value) -> bytes:
    """Protocol-2 pickle bytes of dicts/lists/ints/str/uint8 arrays as Python 2 + NumPy 1 wrote them."""
    return b"\x80\x02" + _value(value) + b"."


NAMES10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def make_cifar10(root: Path, per_batch: int = 6, seed: int = 0, writer=py2_pickle) -> Path:
    """A cifar-10-batches-py folder with `per_batch` images per batch; returns it."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, per_batch)]
        labels[:2] = [0, 9]  # every batch has two classes at least
        batch = {"batch_label": f"batch {i}", "labels": labels, "data": data,
                 "filenames": [f"img_{i}_{j}.png" for j in range(per_batch)]}
        (folder / name).write_bytes(writer(batch))
    meta = {"num_cases_per_batch": per_batch, "label_names": NAMES10, "num_vis": 3072}
    (folder / "batches.meta").write_bytes(writer(meta))
    return folder


def make_cifar100(root: Path, n: int = 8, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    for name in ("train", "test"):
        fine = [int(v) for v in rng.integers(0, 100, n)]
        fine[:2] = [0, 99]
        batch = {"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), "fine_labels": fine,
                 "coarse_labels": [f // 5 for f in fine], "filenames": [f"{name}_{j}" for j in range(n)]}
        (folder / name).write_bytes(py2_pickle(batch))
    meta = {"fine_label_names": [f"fine{i}" for i in range(100)], "coarse_label_names": [f"coarse{i}" for i in range(20)]}
    (folder / "meta").write_bytes(py2_pickle(meta))
    return folder


@pytest.fixture
def cifar_tools():
    """The builders above, for tests (conftest helpers cannot be imported under --import-mode=importlib)."""
    return {"py2_pickle": py2_pickle, "cifar10": make_cifar10, "cifar100": make_cifar100, "names10": NAMES10,
            "py3_pickle": lambda v, protocol=5: pickle.dumps(v, protocol=protocol)}
