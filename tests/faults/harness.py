"""Helpers of the fault-injection suite (loaded by conftest.py as `trainwell_faults_harness`)."""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import signal
import subprocess
import sys
import time
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


# ----------------------------------------------------------------------------- running commands
@dataclass
class Result:
    code: int | str  # the exit status, or "traceback" when an exception escaped main()
    out: str
    err: str
    argv: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"trainwell {' '.join(self.argv)} → {self.code}\n--- stderr ---\n{self.err[-3000:]}\n--- stdout ---\n{self.out[-1500:]}"


# what Python's default warning filters hide from a user of the command line
HIDDEN = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


def cli(*argv) -> Result:
    """`trainwell ARGV` in this process: exit code, stdout, stderr (warnings shown as the CLI would show them).

    An exception that escapes `main` is what a user would see as a traceback: the result's code is
    "traceback" and its stderr holds it."""
    from trainwell.cli import main

    args = tuple(str(a) for a in argv)
    out, err = io.StringIO(), io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        warnings.simplefilter("default")
        try:
            code: int | str = main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # noqa: BLE001 — exactly what the test looks for
            code = "traceback"
            err.write(traceback.format_exc())
    noise = "".join(f"{w.filename}:{w.lineno}: {w.category.__name__}: {w.message}\n" for w in caught
                    if not issubclass(w.category, HIDDEN))
    return Result(code, out.getvalue(), noise + err.getvalue(), args)


def refused(res: Result, *names: str | tuple[str, ...], code: int = 2) -> str:
    """Assert a clean refusal: exit `code`, one error paragraph last on stderr that names each of
    `names` (a tuple: any one of them), no traceback, no warnings. Returns the message."""
    assert res.code == code, str(res)
    assert "Traceback" not in res.err, str(res)
    lines = [line for line in res.err.splitlines() if line.strip()]
    errors = [line for line in lines if ": error: " in line and line.startswith("trainwell ")]
    assert len(errors) == 1 and lines[-1] == errors[0], str(res)
    assert not any("Warning" in line for line in lines), str(res)
    message = errors[0]
    for name in names:
        options = name if isinstance(name, tuple) else (name,)
        assert any(str(o) in message for o in options), f"{options} not named in: {message}"
    return message


def ok(res: Result) -> Result:
    assert res.code == 0 and "Traceback" not in res.err, str(res)
    return res


def tree(folder: Path) -> dict[str, str]:
    """relative path → sha256 of every file (a link → its target; not .lock), to prove nothing changed."""
    folder = Path(folder)
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        if p.name == ".lock":  # holds the pid of the last process that locked the folder
            continue
        if p.is_symlink():
            out[rel] = "-> " + os.readlink(p)
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def spawn(argv, cwd: Path, log: Path) -> subprocess.Popen:
    """`python -m trainwell ARGV` as a child process (stdout and stderr to `log`), one thread."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    handle = open(log, "wb")
    return subprocess.Popen([sys.executable, "-m", "trainwell", *map(str, argv)], cwd=cwd, env=env,
                            stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)


def wait_for(condition, proc: subprocess.Popen, timeout: float = 120.0, what: str = "") -> None:
    """Poll `condition()` every 20 ms until it holds; fail if the process ends first or time runs out."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"the process ended (status {proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def kill9(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL


def lines_of(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


# ----------------------------------------------------------------------------- data and recipes
def write_blobs(path: Path, n: int = 240, features: int = 10, classes: int = 3, seed: int = 0) -> Path:
    """n examples of `classes` Gaussian blobs in `features` dimensions (learnable in a few dozen steps)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = (rng.normal(size=(classes, features))[y] * 2 + rng.normal(size=(n, features))).astype(np.float32)
    np.savez(path, x=x, y=y)
    return path


RECIPE = """name = "tiny"
seed = 0
[data]
path = "blobs.npz"
preprocess = ["standardize"]
val_fraction = 0.25
[model]
name = "mlp"
widths = [16]
[optim]
name = "adam"
lr = 0.01
[train]
steps = 40
batch_size = 32
eval_every = 10
log_every = 5
device = "cpu"
[search]
trials = 4
steps = 30
[search.space]
"optim.lr" = { dist = "loguniform", low = 0.001, high = 0.1 }
"""


@contextlib.contextmanager
def read_only(path: Path):
    """`path` (a new folder) made unwritable while the block runs: mode 0555, or — for root, whom
    modes do not stop — the immutable attribute (`chattr +i`); skipped where neither works."""
    import pytest

    path.mkdir(exist_ok=True)
    if os.geteuid() != 0:
        path.chmod(0o555)
        try:
            yield path
        finally:
            path.chmod(0o755)
        return
    import shutil

    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
        pytest.skip("running as root where chattr +i does not work: no way to make a folder read-only for root")
    try:
        yield path
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)
