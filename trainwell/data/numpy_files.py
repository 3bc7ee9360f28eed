"""NumPy files: one .npz archive, or .npy files side by side — numbers only, never unpickled.

    data.npz                    arrays x, y, and optionally x_test + y_test and class_names
    folder/x.npy, y.npy         the same names as separate .npy files in one folder (data.path is
    [x_test.npy, y_test.npy]    the folder or its x.npy); optional class_names.npy
    [class_names.npy]

x may be N×F, N×C×L, N×L×C, N×C×H×W or N×H×W×C (see trainwell/data/layout.py); y holds class
indices or names. Every array's header is read before its data: an array of Python objects
(dtype=object, which only pickle can restore) is refused without being unpickled.
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import IO

import numpy as np

from trainwell.data.raw import RawData
from trainwell.errors import UserError

KEYS = ("x", "y", "x_test", "y_test", "class_names")


def _header_dtype(handle: IO[bytes]) -> np.dtype | None:
    """The dtype in an .npy header (the handle is left after the header), or None if unknown."""
    fmt = np.lib.format
    version = fmt.read_magic(handle)
    if version == (1, 0):
        return fmt.read_array_header_1_0(handle)[2]
    if version == (2, 0):
        return fmt.read_array_header_2_0(handle)[2]
    return None


def _refuse_objects(kind: np.dtype | None, where: str) -> None:
    if kind is not None and kind.hasobject:
        raise UserError(
            f"{where} holds Python objects (dtype=object); trainwell reads numeric (or string) arrays only and "
            "never unpickles a data file: save it with a numeric dtype, e.g. np.asarray(x, dtype=np.float32)"
        )


def _class_names(value: np.ndarray | None, where: str) -> list[str] | None:
    if value is None:
        return None
    if value.ndim != 1 or value.dtype.kind not in "US":
        raise UserError(f"{where}: class_names must be a 1-D array of strings, found {value.dtype} {value.shape}")
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in value.tolist()]


def _check_keys(found: set[str], where: str) -> None:
    missing = [k for k in ("x", "y") if k not in found]
    if missing:
        raise UserError(f"{where}: missing {missing}; found {sorted(found)} (expected x, y, optional x_test, y_test, class_names)")
    if ("x_test" in found) != ("y_test" in found):
        raise UserError(f"{where}: has only one of x_test / y_test; give both or neither")


def read_npz(path: str | Path) -> RawData:
    """An .npz with arrays `x`, `y` and optionally `x_test`, `y_test`, `class_names`."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            members = {n[:-4]: n for n in archive.namelist() if n.endswith(".npy")}
            _check_keys(set(members), str(path))
            for key in KEYS:
                if key not in members:
                    continue
                with archive.open(members[key]) as handle:
                    _refuse_objects(_header_dtype(handle), f"{path}: array {key!r}")
        with np.load(path, allow_pickle=False) as data:
            for key in KEYS:
                if key in members:
                    arrays[key] = data[key]
    except UserError:
        raise
    except Exception as exc:  # zipfile/format problems: a corrupt or foreign file
        raise UserError(f"{path}: cannot read it as a NumPy .npz archive ({type(exc).__name__}: {exc})") from exc
    return RawData(arrays["x"], arrays["y"], arrays.get("x_test"), arrays.get("y_test"),
                   class_names=_class_names(arrays.get("class_names"), str(path)), source=f"npz {path}")


def npy_folder(path: Path) -> Path:
    """The folder of an .npy pair from data.path (the folder itself, or its x.npy)."""
    if path.is_dir():
        return path
    if path.name != "x.npy":
        raise UserError(f"{path}: an .npy data set is a folder holding x.npy and y.npy (optional x_test.npy, "
                        "y_test.npy, class_names.npy); point data.path at the folder or at its x.npy")
    return path.parent


def read_npy(path: str | Path) -> RawData:
    """x.npy, y.npy (and optional x_test.npy, y_test.npy, class_names.npy) from one folder."""
    folder = npy_folder(Path(path))
    files = {k: folder / f"{k}.npy" for k in KEYS if (folder / f"{k}.npy").is_file()}
    _check_keys(set(files), f"{folder} (.npy files)")
    arrays: dict[str, np.ndarray] = {}
    for key, file in files.items():
        try:
            with open(file, "rb") as handle:
                _refuse_objects(_header_dtype(handle), str(file))
            arrays[key] = np.load(file, allow_pickle=False)
        except UserError:
            raise
        except Exception as exc:
            raise UserError(f"{file}: cannot read it as a NumPy .npy file ({type(exc).__name__}: {exc})") from exc
    return RawData(arrays["x"], arrays["y"], arrays.get("x_test"), arrays.get("y_test"),
                   class_names=_class_names(arrays.get("class_names"), str(folder)), source=f"npy files in {folder}")
