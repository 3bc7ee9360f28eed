"""Read a pickle of plain data without running code from it.

`pickle.load` calls whatever function a file names — a downloaded "data set" can run any program.
`load_plain_pickle` uses an `Unpickler` whose `find_class` (the one door through which a pickle
reaches a callable) opens only for what data files of dicts, lists, strings, numbers and NumPy
arrays need:

    numpy  ndarray, dtype, _reconstruct, _frombuffer, scalar   (array and scalar reconstruction)
    _codecs.encode(text, "latin1")                              (bytes in protocol-2 pickles of Python 3)

dict, list, tuple, str, bytes, int, float, bool and None are built by pickle opcodes and need no
class. Anything else — `os.system`, `builtins.eval`, a class with `__reduce__` — is refused with
a `UserError` naming the file and the global it asked for; arrays holding Python objects
(dtype=object) are refused too. Python 2 pickles (the CIFAR python files) load with
`encoding="latin1"`, as NumPy recommends for its arrays: their strings arrive as `str`.

Example:
    >>> batch = load_plain_pickle(Path("cifar-10-batches-py/data_batch_1"))
    >>> batch["data"].shape
    (10000, 3072)
"""
from __future__ import annotations

import codecs
import pickle
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from trainwell.errors import UserError

try:  # NumPy >= 2 names its core package numpy._core; pickles of NumPy 1 say numpy.core
    from numpy._core import multiarray as _multiarray
    from numpy._core import numeric as _numeric
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core import multiarray as _multiarray  # type: ignore[no-redef]
    from numpy.core import numeric as _numeric  # type: ignore[no-redef]


class Refused(pickle.UnpicklingError):
    """The pickle asked for something plain data does not need (the message says what)."""


def _reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    if subtype is not np.ndarray:
        raise Refused(f"array reconstruction of {subtype!r} (only numpy.ndarray is allowed)")
    if tuple(shape) != (0,):  # NumPy pickles an empty placeholder and fills it from the state
        raise Refused(f"an array placeholder of shape {shape!r} (NumPy writes (0,))")
    return _multiarray._reconstruct(np.ndarray, (0,), dtype)


def _dtype(*args: Any) -> np.dtype:
    kind = np.dtype(*args)
    if kind.hasobject:
        raise Refused("an array of Python objects (dtype=object)")
    return kind


def _frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise Refused("an array of Python objects (dtype=object)")
    return _numeric._frombuffer(buffer, dtype, shape, order)


def _scalar(dtype: Any, *state: Any) -> Any:
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise Refused("a NumPy scalar of Python objects")
    return _multiarray.scalar(dtype, *state)


def _encode(text: Any, encoding: str = "latin1") -> bytes:
    if not isinstance(text, str) or codecs.lookup(encoding).name != "iso8859-1":
        raise Refused(f"_codecs.encode with {encoding!r} (only latin1 text to bytes is allowed)")
    return text.encode("latin1")


ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _dtype,
    ("_codecs", "encode"): _encode,
}
for _core in ("numpy.core", "numpy._core"):
    ALLOWED[(f"{_core}.multiarray", "_reconstruct")] = _reconstruct
    ALLOWED[(f"{_core}.multiarray", "scalar")] = _scalar
    ALLOWED[(f"{_core}.numeric", "_frombuffer")] = _frombuffer


class PlainUnpickler(pickle.Unpickler):
    """An Unpickler that builds only plain data and NumPy arrays (see the module docstring)."""

    def find_class(self, module: str, name: str) -> Any:
        found = ALLOWED.get((module, name))
        if found is None:
            raise Refused(f"the global {module}.{name}")
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise Refused("a persistent id (references to outside objects)")


def _check_no_objects(value: Any, path: Path) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, np.ndarray) and item.dtype.hasobject:
            raise UserError(f"{path}: holds an array of Python objects (dtype=object); trainwell reads numbers only")
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


def load_plain_pickle(path: str | Path, handle: BinaryIO | None = None, what: str = "a data file") -> Any:
    """Unpickle `path` (or the open `handle`, named `path` in messages) allowing plain data only.

    Raises UserError naming the file when it asks for anything else, is truncated or is no pickle.
    """
    path = Path(path)
    try:
        if handle is None:
            with open(path, "rb") as fh:
                value = PlainUnpickler(fh, encoding="latin1").load()
        else:
            value = PlainUnpickler(handle, encoding="latin1").load()
    except Refused as exc:
        raise UserError(
            f"{path}: refused to unpickle it: it asks for {exc}, and {what} holds only dicts, lists, "
            "strings, numbers and NumPy arrays (trainwell never runs code from a data file)"
        ) from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read it ({exc})") from exc
    except Exception as exc:  # truncated or not a pickle at all: EOFError, ValueError, KeyError...
        raise UserError(f"{path}: not a readable pickle ({type(exc).__name__}: {exc}); is the file complete?") from exc
    _check_no_objects(value, path)
    return value
