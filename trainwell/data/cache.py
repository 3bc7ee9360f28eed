"""A user cache directory with atomic writes (temp file + rename)."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from trainwell.io import atomic_write


def cache_dir() -> Path:
    """$TRAINWELL_CACHE, else $XDG_CACHE_HOME/trainwell, else ~/.cache/trainwell."""
    root = os.environ.get("TRAINWELL_CACHE")
    if root:
        return Path(root)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "trainwell"


def save_npz_atomic(path: Path, **arrays: np.ndarray) -> None:
    """Write arrays to `path` so that a reader never sees a half-written file."""
    atomic_write(path, lambda handle: np.savez(handle, **arrays))


def load_npz_cached(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    """Arrays from a cache file, or None when it is missing, corrupt or lacks a key."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if not all(k in data for k in keys):
                return None
            return {k: data[k] for k in keys}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError):
        return None
