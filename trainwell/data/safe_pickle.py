"""Read a pickle of plain data without running code from it.

`pickle.load` calls whatever function a file names — a downloaded "data set" can run any program.
`load_plain_pickle` uses an `Unpickler` whose `find_class` (the one door through which a pickle
reaches a callable) opens only for what files of dicts, lists, strings, numbers and NumPy arrays
need, and even there hands out stand-ins instead of NumPy's own functions:

    numpy.dtype, numpy.ndarray, numpy.core.multiarray._reconstruct / scalar,
    numpy.core.numeric._frombuffer (also under numpy._core)       -> `_DtypeSpec`, `_ArraySpec`
    _codecs.encode(text, "latin1"), bytes()   (bytes in protocol-2 pickles written by Python 3)

The stand-ins record what the pickle says and trainwell builds the array itself with
`np.frombuffer`, after checking the dtype is a plain number, bool or string type and the byte count
matches the shape. NumPy's own `dtype.__setstate__` is never called: its flags field can turn a
plain void dtype into one that "holds objects", and an array of raw bytes with such a dtype would
treat attacker bytes as pointers. dict, list, tuple, str, bytes, int, float, bool and None are built
by pickle opcodes and need no class. Anything else — `os.system`, `builtins.eval`, a class with
`__reduce__`, structured or object dtypes — is refused with a `UserError` naming the file and what it
asked for. Python 2 pickles (the CIFAR python files) load with `encoding="latin1"`, as NumPy
recommends for its arrays: their strings arrive as `str`.

Example:
    >>> batch = load_plain_pickle(Path("cifar-10-batches-py/data_batch_1"))
    >>> batch["data"].shape, batch["data"].dtype
    ((10000, 3072), dtype('uint8'))
"""
from __future__ import annotations

import codecs
import math
import pickle
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from trainwell.errors import UserError

PLAIN_KINDS = "biufcSU"  # bool, signed/unsigned int, float, complex, bytes, str


class Refused(pickle.UnpicklingError):
    """The pickle asked for something plain data does not need (the message says what)."""


class _NdarrayMarker:
    """What `numpy.ndarray` resolves to: a marker for `_reconstruct`, not constructible."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        raise Refused("numpy.ndarray constructed directly")


class _DtypeSpec:
    """`numpy.dtype(name, align, copy)` + its pickled state, turned into a plain dtype by `resolve`."""

    def __init__(self, name: Any = None, *args: Any) -> None:
        self.name, self.state = name, None

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def resolve(self) -> np.dtype:
        if not isinstance(self.name, str):
            raise Refused(f"a dtype named {self.name!r}")
        try:
            kind = np.dtype(self.name)
        except TypeError as exc:
            raise Refused(f"the dtype {self.name!r} ({exc})") from None
        if kind.kind not in PLAIN_KINDS or kind.fields is not None or kind.subdtype is not None:
            raise Refused(f"the dtype {self.name!r} (only plain numbers, bools and strings are read)")
        state = self.state
        if state is not None:
            if not isinstance(state, tuple) or len(state) < 8 or state[0] not in (3, 4) or any(s is not None for s in state[2:5]):
                raise Refused(f"a dtype state {state!r} (structured, sub-array or unknown layout)")
            if state[1] in ("<", ">"):
                kind = kind.newbyteorder(state[1])
        return kind


def _dtype_of(spec: Any) -> np.dtype:
    if not isinstance(spec, _DtypeSpec):
        raise Refused(f"an array whose dtype is {type(spec).__name__}")
    return spec.resolve()


def _array(raw: Any, kind: np.dtype, shape: Any, fortran: bool) -> np.ndarray:
    if isinstance(raw, str):
        raw = raw.encode("latin1")  # a Python 2 byte string, read with encoding="latin1"
    if not isinstance(raw, (bytes, bytearray)):
        raise Refused(f"array data of type {type(raw).__name__}")
    if not isinstance(shape, tuple) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise Refused(f"an array shape {shape!r}")
    if math.prod(shape) * kind.itemsize != len(raw):
        raise Refused(f"an array of shape {shape} and dtype {kind} with {len(raw)} bytes of data")
    flat = np.frombuffer(raw, dtype=kind)
    return flat.reshape(shape, order="F" if fortran else "C").copy(order="K")


class _ArraySpec:
    """What `_reconstruct(ndarray, (0,), b'b')` returns; `__setstate__` builds the real array."""

    def __init__(self) -> None:
        self.array: np.ndarray | None = None

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) != 5:
            raise Refused(f"an array state of {type(state).__name__} (length {len(state) if isinstance(state, tuple) else '?'})")
        _version, shape, spec, fortran, raw = state
        self.array = _array(raw, _dtype_of(spec), shape, bool(fortran))


def _reconstruct(subtype: Any, shape: Any, dtype: Any) -> _ArraySpec:
    if subtype is not _NdarrayMarker:
        raise Refused(f"array reconstruction of {subtype!r} (only numpy.ndarray is allowed)")
    return _ArraySpec()


def _frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    if isinstance(buffer, pickle.PickleBuffer):
        buffer = bytes(buffer)
    return _array(buffer, _dtype_of(dtype), tuple(shape), order == "F")


def _scalar(dtype: Any, raw: Any = None) -> Any:
    kind = _dtype_of(dtype)
    return _array(raw, kind, (), False)[()]


def _encode(text: Any, encoding: str = "latin1") -> bytes:
    if not isinstance(text, str) or codecs.lookup(encoding).name != "iso8859-1":
        raise Refused(f"_codecs.encode with {encoding!r} (only latin1 text to bytes is allowed)")
    return text.encode("latin1")


def _empty_bytes(*args: Any) -> bytes:
    if args:
        raise Refused("bytes(...) with arguments (only the empty bytes object is allowed)")
    return b""


ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): _NdarrayMarker,
    ("numpy", "dtype"): _DtypeSpec,
    ("_codecs", "encode"): _encode,
    ("__builtin__", "bytes"): _empty_bytes,
    ("builtins", "bytes"): _empty_bytes,
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


_CONTAINERS = (dict, list, tuple, _ArraySpec, _DtypeSpec)


def _finish(value: Any) -> Any:
    """Replace every `_ArraySpec` by its array; a stray `_DtypeSpec` becomes its dtype."""
    if isinstance(value, _ArraySpec):
        if value.array is None:
            raise Refused("an array without its data")
        return value.array
    if isinstance(value, _DtypeSpec):
        return value.resolve()
    if isinstance(value, dict):
        return {_finish(k): _finish(v) for k, v in value.items()}
    if isinstance(value, list):
        if any(isinstance(v, _CONTAINERS) for v in value):
            return [_finish(v) for v in value]
        return value
    if isinstance(value, tuple):
        return tuple(_finish(v) for v in value)
    return value


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
        return _finish(value)
    except Refused as exc:
        raise UserError(
            f"{path}: refused to unpickle it: it asks for {exc}, and {what} holds only dicts, lists, "
            "strings, numbers and NumPy arrays (trainwell never runs code from a data file)"
        ) from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read it ({exc})") from exc
    except Exception as exc:  # truncated or not a pickle at all: EOFError, ValueError, KeyError...
        raise UserError(f"{path}: not a readable pickle ({type(exc).__name__}: {exc}); is the file complete?") from exc
