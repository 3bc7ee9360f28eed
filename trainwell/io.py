"""Files written so that nothing is ever half-written, and JSON lines read the one way.

Every file trainwell writes goes through `atomic_write`: the bytes go to a temporary file in the
same directory, are flushed, and the temporary file is renamed over the target (`os.replace`,
atomic on POSIX and Windows). A reader — or a process killed mid-write — sees either the old file
or the new one, never a mix. A failed write removes its temporary file. (`fsync=True` also forces
the bytes to the disk before the rename, which only matters for a power loss, and costs time.)

`RunLock` keeps two processes from writing one run directory at once (an exclusive `flock` on
`<dir>/.lock`, released when the process ends, even by kill -9).

Nothing is written through a symbolic link: `atomic_write` renames over a link (replacing the
link, never its target), and the files opened in place — `.lock` and the JSON-lines streams —
are opened with `O_NOFOLLOW`, so a link planted in a run directory cannot make trainwell truncate
or append to a file elsewhere (`UserError` naming it instead). Files trainwell reads are checked
with `regular_file` first: a device (`/dev/zero`) or a FIFO would be read forever or block.

JSON lines (`metrics.jsonl`, `stats.jsonl`, `trials.jsonl`) are appended one record per line.
A process killed mid-append leaves a torn last line: `read_jsonl` skips it (and only it — a bad
line in the middle is corruption and raises `UserError` naming the file and line), and
`append_jsonl` / `open_jsonl` first cut a torn last line off, so the next record starts on a line of
its own and the file stays valid. `trim_jsonl(path, keep)` rewrites a stream atomically with only
the records `keep` accepts (a resumed run drops the records of the steps it is about to redo).

Example:
    >>> atomic_write_json(Path("summary.json"), {"test_accuracy": 0.99})
    >>> append_jsonl(Path("metrics.jsonl"), {"step": 20, "loss": 0.5})
    >>> read_jsonl(Path("metrics.jsonl"))
    [{'step': 20, 'loss': 0.5}]
"""
from __future__ import annotations

import errno
import json
import os
import stat
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from trainwell.errors import UserError


def _tmp_beside(path: Path) -> tuple[int, str]:
    return tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")


def _cannot_write(path: Path, exc: OSError) -> UserError:
    return UserError(f"cannot write {path}: {exc.strerror or exc} (is {path.parent} writable, with space left?)")


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None], *, fsync: bool = False) -> Path:
    """Write `path` through `write(handle)` on a temp file, then rename it into place.

    A folder that cannot be written (permissions, read-only, full disk) is a `UserError` naming `path`."""
    path = Path(path)
    ensure_dir(path.parent)
    if path.is_dir() and not path.is_symlink():
        raise UserError(f"cannot write {path}: it is a folder")
    try:
        fd, tmp = _tmp_beside(path)
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EISDIR):
            raise _cannot_write(path, exc) from None
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda h: h.write(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda h: h.write(text.encode("utf-8")))


def atomic_write_json(path: str | Path, data: Any, *, indent: int | None = 2) -> Path:
    """JSON with `default=str` (paths, numpy scalars); NaN/Inf are written as JSON's NaN/Infinity."""
    return atomic_write_text(path, json.dumps(data, indent=indent, default=str) + "\n")


def atomic_torch_save(path: str | Path, payload: Any) -> Path:
    """`torch.save(payload)` atomically (checkpoints and weights files)."""
    import torch

    return atomic_write(path, lambda h: torch.save(payload, h))


def atomic_copy(src: str | Path, dst: str | Path) -> Path:
    """Copy `src` to `dst` through a temp file + rename."""
    src, dst = Path(src), Path(dst)

    def write(handle: IO[bytes]) -> None:
        with open(src, "rb") as source:
            shutil.copyfileobj(source, handle)

    return atomic_write(dst, write)


def ensure_dir(path: str | Path, what: str = "output folder") -> Path:
    """mkdir -p with an error for people when `path` (or a parent) is a file or not writable."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UserError(f"{what} {path} cannot be created: {path} or one of its parents is a file, not a folder") from None
    except NotADirectoryError:
        raise UserError(f"{what} {path} cannot be created: one of its parents is a file, not a folder") from None
    except PermissionError:
        raise UserError(f"{what} {path} cannot be created: permission denied (pick a folder you can write)") from None
    except OSError as exc:
        raise UserError(f"{what} {path} cannot be created ({exc.strerror or exc})") from None
    if not path.is_dir():
        raise UserError(f"{what} {path} is a file, not a folder")
    return path


def regular_file(path: str | Path, what: str = "file") -> Path:
    """`path` if it is a regular file (a link to one is fine), else a `UserError` saying what it is:
    missing, a folder, or a device / FIFO / socket (which a reader would read forever, or block on)."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise UserError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise UserError(f"{what} {path} cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISREG(mode):
        return path
    kind = ("a folder" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
            else "a character device" if stat.S_ISCHR(mode) else "a block device" if stat.S_ISBLK(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "not a file")
    raise UserError(f"{what} {path} is not a regular file ({kind}); give a file")


def _open_nofollow(path: Path, flags: int, what: str) -> int:
    """os.open(path, flags | O_NOFOLLOW), with a `UserError` when `path` is a symbolic link."""
    try:
        return os.open(path, flags | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0), 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP or path.is_symlink():
            raise UserError(f"{what} {path} is a symbolic link (to {os.readlink(path)}); trainwell does not write "
                            "through links: remove it") from None
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT):
            raise _cannot_write(path, exc) from None
        raise


def check_writable(path: str | Path, what: str = "output folder") -> Path:
    """`ensure_dir(path)` and prove it is writable by creating and removing a temp file there."""
    path = ensure_dir(path, what)
    try:
        fd, tmp = tempfile.mkstemp(dir=path, prefix=".trainwell-write-test.")
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise UserError(f"{what} {path} is not writable ({exc.strerror or exc}); pick another one") from None
    return path


def remove_stale_tmp(folder: str | Path) -> list[Path]:
    """Remove temp files `atomic_write` left behind in `folder` when a process was killed mid-write."""
    removed = []
    folder = Path(folder)
    if folder.is_dir():
        for tmp in folder.glob(".*.tmp"):
            try:
                tmp.unlink()
                removed.append(tmp)
            except OSError:
                pass
    return removed


class RunLock:
    """An exclusive lock on a folder while this process writes it (`with RunLock(run_dir, "run"):`).

    A second process gets a UserError naming the folder and the pid that holds it. The lock is an
    `fcntl.flock` on `<folder>/.lock`, so the kernel releases it when the holder dies.
    """

    def __init__(self, folder: str | Path, what: str = "run directory"):
        self.folder, self.what = Path(folder), what
        self._handle: IO[str] | None = None

    def acquire(self) -> "RunLock":
        import fcntl

        ensure_dir(self.folder, self.what)
        fd = _open_nofollow(self.folder / ".lock", os.O_RDWR | os.O_CREAT, f"the lock file of {self.what}")
        handle = os.fdopen(fd, "r+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise UserError(f"{self.what} {self.folder} is in use by {holder} (a run writing it); wait for it to end, "
                            "or use another folder") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        self._handle = handle
        return self

    def release(self) -> None:
        if self._handle is not None:
            import fcntl

            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


# ----------------------------------------------------------------------------- JSON lines
def _decode_lines(data: bytes, path: Path) -> list[dict[str, Any]]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path} is not a text file of JSON lines (it holds binary data)") from None
    lines = text.split("\n")
    torn_tail = not text.endswith("\n")  # the last line was never terminated: a kill mid-write
    records: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if torn_tail and number == len(lines):
                break
            raise UserError(f"{path}: line {number} is not JSON ({exc.msg}); the file is corrupt") from None
        if not isinstance(record, dict):
            raise UserError(f"{path}: line {number} is a JSON {type(record).__name__}, not a record (an object)")
        records.append(record)
    return records


def read_jsonl(path: str | Path, *, missing_ok: bool = True) -> list[dict[str, Any]]:
    """Records of a JSON-lines file. A torn last line (a killed writer) is skipped; any other bad
    line, binary content or non-object raises `UserError` naming the file and line."""
    path = Path(path)
    if not path.exists():
        if missing_ok:
            return []
        raise UserError(f"{path} does not exist")
    regular_file(path, "record stream")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path} cannot be read ({exc.strerror or exc})") from None
    return _decode_lines(data, path)


def append_jsonl(path: str | Path, record: dict[str, Any] | Iterable[dict[str, Any]], handle: IO[str] | None = None) -> None:
    """Append one record (or several) as JSON lines; a torn last line is cut off first."""
    path = Path(path)
    records = [record] if isinstance(record, dict) else list(record)
    text = "".join(json.dumps(r, default=str) + "\n" for r in records)
    if handle is not None:
        handle.write(text)
        handle.flush()
        return
    with open_jsonl(path) as out:
        out.write(text)


def open_jsonl(path: str | Path) -> IO[str]:
    """A text handle appending to `path`, after cutting off a torn last line if there is one
    (the half record of a killed writer, which can never be completed). `path` must not be a
    symbolic link (see the module docstring)."""
    path = Path(path)
    fd = _open_nofollow(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, "record stream")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UserError(f"record stream {path} is not a regular file; remove it")
    if os.fstat(fd).st_size:
        with os.fdopen(os.dup(fd), "rb+") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(size - 1)
            if handle.read(1) != b"\n":
                # find the end of the last complete line, reading backwards in blocks
                end, block = size, 4096
                keep = 0
                while end > 0:
                    start = max(0, end - block)
                    handle.seek(start)
                    chunk = handle.read(end - start)
                    at = chunk.rfind(b"\n")
                    if at >= 0:
                        keep = start + at + 1
                        break
                    end = start
                handle.truncate(keep)
    os.lseek(fd, 0, os.SEEK_END)
    return os.fdopen(fd, "a", encoding="utf-8")


def trim_jsonl(path: str | Path, keep: Callable[[dict[str, Any]], bool]) -> int:
    """Rewrite `path` atomically with only the records `keep(record)` accepts; returns how many went.

    A resumed run drops the records of the steps after its checkpoint, which it is about to run
    (and log) again: the stream then equals the one an uninterrupted run writes. A missing file
    is left missing; a torn last line goes too."""
    path = Path(path)
    if not path.exists():
        return 0
    records = read_jsonl(path)
    kept = [r for r in records if keep(r)]
    size = path.stat().st_size
    with open(path, "rb") as handle:  # only the last byte: read_jsonl has just read the whole file
        clean_tail = not size or (handle.seek(size - 1) >= 0 and handle.read(1) == b"\n")
    if len(kept) == len(records) and clean_tail:
        return 0
    atomic_write_text(path, "".join(json.dumps(r, default=str) + "\n" for r in kept))
    return len(records) - len(kept)


__all__ = ["append_jsonl", "atomic_copy", "atomic_torch_save", "atomic_write", "atomic_write_bytes",
           "atomic_write_json", "atomic_write_text", "RunLock", "check_writable", "ensure_dir", "open_jsonl", "read_jsonl",
           "regular_file", "remove_stale_tmp", "trim_jsonl"]
