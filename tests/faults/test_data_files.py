"""Data files (.npz, .npy, .csv, CIFAR batches, image folders) and predict/evaluate inputs: damaged,
wrong, foreign, and hostile (pickles of code, devices, FIFOs, huge declared sizes)."""
from __future__ import annotations

import io
import os
import pickle
import tarfile
import zipfile

import numpy as np
import pytest
from trainwell_faults_harness import cli, ok, refused

MARK = "/tmp/trainwell-faults-data-pwned"


class RunsCode:
    def __reduce__(self):
        return (os.system, (f"touch {MARK}",))


@pytest.fixture(autouse=True)
def no_mark():
    if os.path.exists(MARK):
        os.unlink(MARK)
    yield
    assert not os.path.exists(MARK), "reading a data file ran code"


RNG = np.random.default_rng(0)
Y = RNG.integers(0, 3, 120)
X = (RNG.normal(size=(3, 10))[Y] * 2 + RNG.normal(size=(120, 10))).astype(np.float32)


def recipe_for(tmp_path, path, **data) -> str:
    lines = [f'name = "d"', "[data]", f'path = "{path}"', *(f"{k} = {v!r}".replace("'", '"') for k, v in data.items()),
             "[model]", 'name = "mlp"', "widths = [8]", "[train]", "steps = 4", "batch_size = 16"]
    file = tmp_path / "d.toml"
    file.write_text("\n".join(lines) + "\n")
    return str(file)


def train_on(tmp_path, path, **data):
    res = cli("train", "--recipe", recipe_for(tmp_path, path, **data), "--out", tmp_path / "out", "--quiet", "--no-report")
    if res.code == 2:
        assert not (tmp_path / "out").exists(), "a refused run left a folder"
    return res


def huge_header(shape=(10**6, 10**6)) -> bytes:
    """An .npy header that declares `shape` float32 (terabytes) over a few bytes of data."""
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, {"descr": "<f4", "fortran_order": False, "shape": shape})
    return b"\x93NUMPY\x01\x00" + head.getvalue()[8:] + b"\0" * 64


# ------------------------------------------------------------------------------------ .npz
def _npz(path, **arrays):
    np.savez(path, **arrays)


NPZ = {
    "empty_file": lambda p: p.write_bytes(b""),
    "truncated": lambda p: (_npz(p, x=X, y=Y), p.write_bytes(p.read_bytes()[:600])),
    "binary": lambda p: p.write_bytes(os.urandom(2000)),
    "foreign_csv": lambda p: p.write_text("a,b,label\n1,2,0\n"),
    "nan": lambda p: _npz(p, x=np.where(RNG.random(X.shape) < 0.01, np.nan, X), y=Y),
    "inf": lambda p: _npz(p, x=np.where(RNG.random(X.shape) < 0.01, np.inf, X), y=Y),
    "one_class": lambda p: _npz(p, x=X, y=np.zeros_like(Y)),
    "no_examples": lambda p: _npz(p, x=X[:0], y=Y[:0]),
    "label_out_of_range": lambda p: _npz(p, x=X, y=Y + 4, class_names=np.array(["a", "b", "c"])),
    "test_label_unseen": lambda p: _npz(p, x=X, y=Y, x_test=X[:5], y_test=np.full(5, 7)),
    "fractional_labels": lambda p: _npz(p, x=X, y=Y + 0.5),
    "length_mismatch": lambda p: _npz(p, x=X, y=Y[:50]),
    "no_y": lambda p: _npz(p, x=X),
    "text_x": lambda p: _npz(p, x=X.astype(str), y=Y),
    "complex_x": lambda p: _npz(p, x=X.astype(complex), y=Y),
    "scalar_x": lambda p: _npz(p, x=np.float32(3), y=Y),
}


@pytest.mark.parametrize("kind", sorted(NPZ))
def test_bad_npz(kind, tmp_path):
    path = tmp_path / "d.npz"
    NPZ[kind](path)
    refused(train_on(tmp_path, path), ("d.npz",))


def test_attack_npz_object_array_is_never_unpickled(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.array([RunsCode()] * 4, dtype=object), y=Y[:4])
    refused(train_on(tmp_path, path), "d.npz", "dtype=object")


def test_attack_npz_huge_declared_size(tmp_path):
    path = tmp_path / "d.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x.npy", huge_header())
        buf = io.BytesIO()
        np.save(buf, Y)
        z.writestr("y.npy", buf.getvalue())
    refused(train_on(tmp_path, path), "d.npz")


@pytest.mark.parametrize("special", ["dev_zero", "fifo", "link_to_dev_zero"])
def test_attack_data_path_is_a_device_or_fifo(special, tmp_path):
    """/dev/zero as data used to fill all memory (21 GB here) and a FIFO to block forever."""
    path = tmp_path / "d.npz"
    if special == "dev_zero":
        res = train_on(tmp_path, "/dev/zero", name="npz")
        refused(res, "/dev/zero", "not a regular file")
        return
    if special == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    refused(train_on(tmp_path, path), "d.npz", "not a regular file")


# ------------------------------------------------------------------------------------ .npy folders
def _npy_folder(folder, x=X, y=Y):
    folder.mkdir()
    for name, value in (("x", x), ("y", y)):
        if isinstance(value, bytes):
            (folder / f"{name}.npy").write_bytes(value)
        else:
            np.save(folder / f"{name}.npy", value, allow_pickle=True)


@pytest.mark.parametrize("kind", ["empty_x", "truncated_y", "huge_declared_x", "object_x"])
def test_bad_npy_folder(kind, tmp_path):
    folder = tmp_path / "arrays"
    if kind == "empty_x":
        _npy_folder(folder, x=b"")
    elif kind == "truncated_y":
        buf = io.BytesIO()
        np.save(buf, Y)
        _npy_folder(folder, y=buf.getvalue()[:90])
    elif kind == "huge_declared_x":
        _npy_folder(folder, x=huge_header())
    else:
        _npy_folder(folder, x=np.array([RunsCode()] * 120, dtype=object))
    refused(train_on(tmp_path, folder), ("x.npy", "y.npy"))


# ------------------------------------------------------------------------------------ .csv
def _csv_rows(n=60):
    return "".join(f"{r[0]:.3f},{r[1]:.3f},{label}\n" for r, label in zip(X[:n], Y[:n]))


CSV = {
    "empty": "",
    "header_only": "a,b,label\n",
    "binary": os.urandom(1500),
    "foreign_npz": b"PK\x03\x04" + os.urandom(300),
    "no_label_column": "a,b\n1,2\n3,4\n",
    "nan_cells": "a,b,label\nnan," + _csv_rows().split(",", 1)[1],
    "torn_last_line": "a,b,label\n" + _csv_rows()[:-7],
    "text_cell": "a,b,label\n" + _csv_rows() + "1.0,abc,1\n",
    "mixed_labels": "a,b,label\n" + _csv_rows() + "1.0,2.0,cat\n",
}


@pytest.mark.parametrize("kind", sorted(CSV))
def test_bad_csv(kind, tmp_path):
    path = tmp_path / "d.csv"
    content = CSV[kind]
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    refused(train_on(tmp_path, path), "d.csv")


def test_attack_csv_fifo(tmp_path):
    path = tmp_path / "d.csv"
    os.mkfifo(path)
    refused(train_on(tmp_path, path), "d.csv", "FIFO")


# ------------------------------------------------------------------------------------ CIFAR batches
def _cifar(folder, override=None):
    folder.mkdir()
    rng = np.random.default_rng(1)
    files = {f"data_batch_{i}": {b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8),
                                 b"labels": rng.integers(0, 10, 4).tolist()} for i in range(1, 6)}
    files["test_batch"] = {b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), b"labels": [0, 1, 2, 3]}
    files["batches.meta"] = {b"label_names": [f"c{i}".encode() for i in range(10)]}
    for name, value in {**files, **(override or {})}.items():
        (folder / name).write_bytes(value if isinstance(value, bytes) else pickle.dumps(value, protocol=2))
    return folder


def test_bad_cifar_reads_when_whole(tmp_path):
    """The control: the same tiny CIFAR-10 folder, unharmed, trains."""
    ok(train_on(tmp_path, _cifar(tmp_path / "cifar-10-batches-py")))


CIFAR = {
    "truncated_batch": lambda: {"data_batch_3": pickle.dumps({b"data": np.zeros((4, 3072), np.uint8)}, protocol=2)[:200]},
    "foreign_batch": lambda: {"data_batch_2": b"PK\x03\x04" + os.urandom(100)},
    "wrong_image_size": lambda: {"data_batch_1": {b"data": np.zeros((4, 100), np.uint8), b"labels": [0] * 4}},
    "labels_not_ints": lambda: {"test_batch": {b"data": np.zeros((4, 3072), np.uint8), b"labels": ["a"] * 4}},
    "meta_without_names": lambda: {"batches.meta": {b"num_cases_per_batch": 4}},
    "float_pixels": lambda: {"data_batch_4": {b"data": np.zeros((4, 3072), np.float64), b"labels": [0] * 4}},
}


@pytest.mark.parametrize("kind", sorted(CIFAR))
def test_bad_cifar(kind, tmp_path):
    folder = _cifar(tmp_path / "cifar-10-batches-py", CIFAR[kind]())
    refused(train_on(tmp_path, folder), "cifar-10-batches-py")


@pytest.mark.parametrize("where", ["batch", "meta"])
def test_attack_cifar_pickle_of_code(where, tmp_path):
    name = "data_batch_1" if where == "batch" else "batches.meta"
    folder = _cifar(tmp_path / "cifar-10-batches-py", {name: pickle.dumps({b"data": RunsCode()}, protocol=2)})
    refused(train_on(tmp_path, folder), name, "system")


def test_attack_cifar_archive_member_paths_are_never_extracted(tmp_path, monkeypatch):
    """A .tar.gz whose members are named ../../escape/data_batch_1: members are read in memory by
    their base name, nothing is extracted anywhere."""
    work = tmp_path / "w" / "x"  # ../../escape from the working folder lands in tmp_path, where it is seen
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    src = _cifar(tmp_path / "src")
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for f in sorted(src.iterdir()):
            tar.add(f, arcname=f"../../escape/{f.name}")
    before = set(tmp_path.parent.rglob("*"))
    ok(train_on(tmp_path, archive))
    made = set(tmp_path.parent.rglob("*")) - before
    assert all(tmp_path in p.parents for p in made), made
    # and nothing named like a member's folder, relative to the working folder or to the archive's
    assert not any("escape" in p.parts for p in made) and not (tmp_path.parent.parent / "escape").exists(), made


# ------------------------------------------------------------------------------------ image folders
def _images(root, bad=None):
    from PIL import Image

    for label in ("cat", "dog"):
        (root / label).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(root / label / f"{i}.png")
    if bad is not None:
        bad(root / "dog" / "9.png")
    return root


def _bomb(path):
    """A valid PNG header declaring 100000 × 100000 pixels (Pillow's decompression-bomb limit)."""
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


IMAGES = {
    "truncated_png": lambda p: (p.write_bytes((p.parent / "0.png").read_bytes()[:40])),
    "text_named_png": lambda p: p.write_text("not an image"),
    "fifo_named_png": lambda p: os.mkfifo(p),
    "link_to_dev_zero": lambda p: p.symlink_to("/dev/zero"),
    "decompression_bomb": _bomb,
}


@pytest.mark.parametrize("kind", sorted(IMAGES))
def test_bad_image_file(kind, tmp_path):
    root = _images(tmp_path / "pets", IMAGES[kind])
    refused(train_on(tmp_path, root), "9.png")


# ------------------------------------------------------------------------------------ predict / evaluate inputs
def _inputs(path, kind):
    if kind == "empty_file":
        path.write_bytes(b"")
    elif kind == "binary":
        path.write_bytes(os.urandom(700))
    elif kind == "wrong_width":
        np.savez(path, x=X[:, :7])
    elif kind == "no_x":
        np.savez(path, inputs=X)
    elif kind == "nan":
        np.savez(path, x=np.full_like(X, np.nan))
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "object_x":
        np.savez(path, x=np.array([RunsCode()] * 3, dtype=object))


@pytest.mark.parametrize("kind", ["empty_file", "binary", "wrong_width", "no_x", "nan", "fifo", "object_x"])
def test_bad_predict_input(kind, finished_run, tmp_path):
    path = tmp_path / "new.npz"
    _inputs(path, kind)
    refused(cli("predict", finished_run, "--input", path, "--out", tmp_path / "p.csv"), "new.npz")
    assert not (tmp_path / "p.csv").exists()


def test_bad_predict_input_device(finished_run, tmp_path):
    refused(cli("predict", finished_run, "--input", "/dev/zero", "--out", tmp_path / "p.csv"), "/dev/zero")


@pytest.mark.parametrize("kind", ["labels_out_of_range", "no_labels", "csv_without_label"])
def test_bad_evaluate_data(kind, finished_run, tmp_path):
    path = tmp_path / ("l.csv" if kind == "csv_without_label" else "l.npz")
    if kind == "labels_out_of_range":
        np.savez(path, x=X, y=Y + 7)
    elif kind == "no_labels":
        np.savez(path, x=X)
    else:
        path.write_text("a,b,c,d,e,f,g,h,i,j\n" + "1,2,3,4,5,6,7,8,9,0\n")
    refused(cli("evaluate", finished_run, "--data", path, "--out", tmp_path / "ev"), path.name)
    assert not (tmp_path / "ev" / "evaluation.json").exists()
