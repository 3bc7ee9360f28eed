"""Compile a C source file of this package into a shared library once per machine, and load it.

`load_library("stats_kernels")` returns a `ctypes.CDLL`, or None when the library cannot be had —
no C compiler, a failed build, `TRAINWELL_NATIVE=0` in the environment — with the reason kept in
`last_error(name)`; callers then use their pure-torch path, so a machine without a compiler
loses speed, never function.

Build: `$CC` (else the compiler Python was built with, else `cc`) with `-O3 -march=native -shared
-fPIC`, retried without `-march=native` when that fails. The library is cached in trainwell's
cache directory (`$TRAINWELL_CACHE`, else `$XDG_CACHE_HOME/trainwell`, else `~/.cache/trainwell`;
a temporary directory if that is not writable) as `native/<name>-<key>.so`; the key hashes the
source, the compiler and its flags, the Python platform and this CPU's model and feature flags
(`-march=native` code must not run on another CPU sharing the home directory). A first build
takes about 0.3 s; it is written to a temporary file and renamed into place, so parallel
processes (pytest-xdist) never load a half-written library. Loading is done once per process.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import sysconfig
import tempfile
from pathlib import Path

from trainwell.data.cache import cache_dir as data_cache_dir

SOURCE_DIR = Path(__file__).parent
FLAG_SETS = (("-O3", "-march=native"), ("-O3",))
_LOADED: dict[str, ctypes.CDLL | None] = {}
_ERRORS: dict[str, str] = {}


def disabled() -> bool:
    """True when the environment asks for the pure-torch paths (`TRAINWELL_NATIVE=0`)."""
    return os.environ.get("TRAINWELL_NATIVE", "1").strip().lower() in ("0", "false", "no", "off")


def compiler() -> str | None:
    """The C compiler command: $CC, else Python's configured CC, else `cc`/`gcc`/`clang` on PATH."""
    for candidate in (os.environ.get("CC"), (sysconfig.get_config_var("CC") or "").split(" ")[0], "cc", "gcc", "clang"):
        if candidate and shutil.which(candidate):
            return candidate
    return None


def cpu_signature() -> str:
    """The CPU model and feature flags (Linux /proc/cpuinfo), else what `platform` knows."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return f"{platform.machine()} {platform.processor()}"
    keep = [line for line in text.splitlines() if line.split(":")[0].strip() in ("model name", "flags", "Features")]
    return "\n".join(sorted(set(keep))) or platform.machine()


def cache_dir() -> Path:
    """Where built libraries live: `native/` in trainwell's cache directory (see the module docstring)."""
    path = data_cache_dir() / "native"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=path, delete=True)
        probe.close()
    except OSError:
        path = Path(tempfile.gettempdir()) / f"trainwell-native-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
        path.mkdir(parents=True, exist_ok=True)
    return path


def _key(source: bytes, cc: str, flags: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    for part in (source, cc.encode(), " ".join(flags).encode(), sysconfig.get_platform().encode(),
                 cpu_signature().encode()):
        h.update(part)
        h.update(b"\0")
    return h.hexdigest()[:16]


def _compile(src: Path, out: Path, cc: str, flags: tuple[str, ...]) -> str | None:
    """Build `src` into `out` (atomically); None on success, else the compiler's complaint."""
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=out.stem + ".", suffix=".tmp.so")
    os.close(fd)
    cmd = [cc, *flags, "-std=c11", "-shared", "-fPIC", "-o", tmp, str(src), "-lm"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            return f"{' '.join(cmd)} failed: {(done.stderr or done.stdout).strip()[-500:]}"
        os.replace(tmp, out)
        return None
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{' '.join(cmd)} failed: {exc}"
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_library(name: str) -> ctypes.CDLL | None:
    """The shared library built from `<name>.c` in this directory, or None (see `last_error`)."""
    if name in _LOADED:
        return _LOADED[name]
    lib: ctypes.CDLL | None = None
    if disabled():
        _ERRORS[name] = "disabled by TRAINWELL_NATIVE=0"
    else:
        lib = _build_and_load(name)
    _LOADED[name] = lib
    return lib


def _build_and_load(name: str) -> ctypes.CDLL | None:
    src = SOURCE_DIR / f"{name}.c"
    cc = compiler()
    if cc is None:
        _ERRORS[name] = "no C compiler found ($CC, cc, gcc, clang)"
        return None
    source = src.read_bytes()
    errors = []
    for flags in FLAG_SETS:
        out = cache_dir() / f"{name}-{_key(source, cc, flags)}.so"
        if not out.exists():
            error = _compile(src, out, cc, flags)
            if error is not None:
                errors.append(error)
                continue
        try:
            return ctypes.CDLL(str(out))
        except OSError as exc:
            errors.append(f"loading {out} failed: {exc}")
    _ERRORS[name] = "; ".join(errors)
    return None


def last_error(name: str) -> str | None:
    """Why `load_library(name)` returned None (None if it was loaded or never tried)."""
    return _ERRORS.get(name)
