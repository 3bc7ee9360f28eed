"""Load a user's own model and data from a Python file: ``path/to/file.py:make``.

The file defines a function (``make`` unless another name follows the colon) that takes no
arguments and returns either

    (model, train, val)                                       a tuple or list of three, or
    {"model": ..., "train": ..., "val": ..., "loss": ..., "optimizer": ...}   (loss, optimizer optional)

where model is an ``nn.Module``; train and val are ``(x, y)`` tensors or NumPy arrays, a
``torch.utils.data.Dataset`` or a ``DataLoader`` (val may be None); loss is a callable
``loss(output, y) -> scalar``; optimizer a ``torch.optim.Optimizer``. The file is imported by
path (``importlib.util.spec_from_file_location``) with its folder first on ``sys.path`` while it
runs, so it can import its neighbours. Every way this can go wrong is a UserError that names the
file and function: missing file, import failure, missing function, exception inside it (its type
and message), wrong return type.

Example (model.py):

    def make():
        net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
        x, y = torch.randn(100, 4), torch.randint(0, 3, (100,))
        return net, (x[:80], y[:80]), (x[80:], y[80:])

    >>> setup = load_user_setup("model.py:make")
    >>> x, y = first_batch(setup.train, 8)
"""
from __future__ import annotations

import hashlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from trainwell.errors import UserError, did_you_mean

KEYS = ("model", "train", "val", "loss", "optimizer")


@dataclass
class UserSetup:
    """What `make()` returned, checked; `source` is "path.py:make"."""

    model: nn.Module
    train: Any
    val: Any
    loss: Callable[..., torch.Tensor] | None
    optimizer: torch.optim.Optimizer | None
    source: str


def split_spec(spec: str) -> tuple[Path, str]:
    """"dir/file.py:fn" → (Path("dir/file.py"), "fn"); "dir/file.py" → (…, "make")."""
    path, sep, name = spec.rpartition(":")
    if not sep or not name.isidentifier() or not path:
        return Path(spec), "make"
    return Path(path), name


def import_file(path: Path) -> Any:
    """Import the Python file at `path` as a fresh module (its folder first on sys.path meanwhile)."""
    if not path.is_file():
        where = "a folder, not a file" if path.is_dir() else "not found"
        raise UserError(f"user code: {path} is {where}; expected a Python file such as model.py:make")
    resolved = path.resolve()
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:10]
    name = f"trainwell_user_{resolved.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise UserError(f"user code: cannot import {path} as Python (expected a .py file)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look their module up here
    with _on_path(resolved.parent):
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[name]
            raise UserError(f"user code: importing {path} raised {type(exc).__name__}: {exc}") from exc
    return module


class _on_path:
    """Put a folder first on sys.path for the duration of a with block."""

    def __init__(self, folder: Path):
        self.folder = str(folder)

    def __enter__(self) -> None:
        sys.path.insert(0, self.folder)

    def __exit__(self, *exc: object) -> None:
        if self.folder in sys.path:
            sys.path.remove(self.folder)


def load_user_setup(spec: str) -> UserSetup:
    """Import ``file.py``, call its ``make()`` (or the named function) and check what it returns."""
    path, fn_name = split_spec(spec)
    source = f"{path}:{fn_name}"
    module = import_file(path)
    fn = getattr(module, fn_name, None)
    if fn is None:
        names = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
                 and getattr(v, "__module__", None) == module.__name__]
        raise UserError(f"user code: {path} has no function {fn_name!r}{did_you_mean(fn_name, names)}; "
                        f"functions defined there: {', '.join(names) or 'none'}")
    if not callable(fn):
        raise UserError(f"user code: {source} is of type {type(fn).__name__}, not a function")
    with _on_path(path.resolve().parent):
        try:
            made = fn()
        except Exception as exc:
            raise UserError(f"user code: {source}() raised {type(exc).__name__}: {exc}") from exc
    return _check(made, source)


def _check(made: Any, source: str) -> UserSetup:
    expected = ("(model, train, val) or a dict with keys model, train, val and optional loss, optimizer")
    if isinstance(made, dict):
        unknown = [k for k in made if k not in KEYS]
        if unknown:
            raise UserError(f"user code: {source}() returned a dict with unknown key(s) {unknown}"
                            f"{did_you_mean(str(unknown[0]), KEYS)}; expected {expected}")
        missing = [k for k in ("model", "train") if made.get(k) is None]
        if missing:
            raise UserError(f"user code: {source}() returned a dict without {', '.join(missing)}; expected {expected}")
        values = {k: made.get(k) for k in KEYS}
    elif isinstance(made, (tuple, list)) and len(made) == 3:
        values = dict(zip(("model", "train", "val"), made), loss=None, optimizer=None)
    else:
        found = f"a value of type {type(made).__name__}" + (f" of length {len(made)}" if isinstance(made, (tuple, list)) else "")
        raise UserError(f"user code: {source}() returned {found}; expected {expected}")
    if not isinstance(values["model"], nn.Module):
        raise UserError(f"user code: {source}(): model must be a torch.nn.Module, found {type(values['model']).__name__}")
    for key in ("train", "val"):
        if values[key] is not None or key == "train":
            check_data(values[key], f"{source}(): {key}")
    if values["loss"] is not None and not callable(values["loss"]):
        raise UserError(f"user code: {source}(): loss must be callable as loss(output, y), found {type(values['loss']).__name__}")
    if values["optimizer"] is not None and not isinstance(values["optimizer"], torch.optim.Optimizer):
        raise UserError(f"user code: {source}(): optimizer must be a torch.optim.Optimizer, "
                        f"found {type(values['optimizer']).__name__}")
    return UserSetup(source=source, **values)


def _is_array(value: Any) -> bool:
    return isinstance(value, torch.Tensor) or type(value).__module__ == "numpy" and hasattr(value, "shape")


def check_data(data: Any, what: str) -> None:
    """UserError unless `data` is (x, y) tensors/arrays of equal length, a Dataset or a DataLoader."""
    if isinstance(data, (DataLoader, Dataset)):
        return
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(_is_array(v) for v in data):
        x, y = data
        if len(x) != len(y):
            raise UserError(f"user code: {what}: x has {len(x)} examples but y has {len(y)}")
        if len(x) == 0:
            raise UserError(f"user code: {what}: no examples (x and y are empty)")
        return
    raise UserError(f"user code: {what} must be (x, y) tensors or arrays, a torch Dataset or a DataLoader; "
                    f"found {type(data).__name__}")


def first_batch(data: Any, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch of at most `size` examples as (x, y) tensors (`trainwell.data.adapt.first_batch`:
    (x, y) arrays, a Dataset, or a DataLoader yielding tuples or dicts)."""
    from trainwell.data.adapt import first_batch as first

    x, y = first(data, size, name="user code: train")
    return torch.as_tensor(x)[:size], torch.as_tensor(y)[:size]


__all__ = ["UserSetup", "check_data", "first_batch", "import_file", "load_user_setup", "split_spec"]
