"""A user cache directory with atomic writes (temp file + rename), and a safe fallback.

`cache_dir()` is where the cache is configured to live. `usable_cache_dir()` is where to write:
that directory when it can be created and written; otherwise a private directory
`<tempfile.gettempdir()>/trainwell-cache-<uid>` (created with mode 0700, and used only when it is
a real directory owned by this user that nobody else can write: another user on a shared machine
could otherwise plant files in it); otherwise None — no cache, the data are built in memory. The
fallback is announced with a one-line warning on the "trainwell" logger (once per directory and
process), never a traceback.
"""
from __future__ import annotations

import logging
import os
import stat
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from trainwell.io import atomic_write

log = logging.getLogger("trainwell.data")
_WARNED: set[str] = set()


def cache_dir() -> Path:
    """$TRAINWELL_CACHE, else $XDG_CACHE_HOME/trainwell, else ~/.cache/trainwell."""
    root = os.environ.get("TRAINWELL_CACHE")
    if root:
        return Path(root)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "trainwell"


def _writable(path: Path) -> str | None:
    """None when `path` can be created and a file written in it, else the reason."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".probe-"):
            pass
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def private_temp_dir() -> Path | None:
    """`<tmp>/trainwell-cache-<uid>`, made 0700; None when it is not ours alone (or no uids here)."""
    if not hasattr(os, "getuid"):
        return None
    path = Path(tempfile.gettempdir()) / f"trainwell-cache-{os.getuid()}"
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    try:
        info = os.lstat(path)
    except OSError:
        return None
    ours = stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077
    return path if ours and _writable(path) is None else None


def _warn_once(key: str, message: str) -> None:
    if key not in _WARNED:
        _WARNED.add(key)
        log.warning(message)


def usable_cache_dir() -> Path | None:
    """`cache_dir()` if writable, else the private temp cache, else None (see the module docstring)."""
    configured = cache_dir()
    why = _writable(configured)
    if why is None:
        return configured
    fallback = private_temp_dir()
    if fallback is not None:
        _warn_once(str(configured), f"trainwell: cache directory {configured} is not writable ({why}); "
                                    f"using {fallback} (set TRAINWELL_CACHE to choose another)")
    else:
        _warn_once(str(configured), f"trainwell: cache directory {configured} is not writable ({why}) and no "
                                    "private temporary cache is available; data will not be cached")
    return fallback


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
