"""Fixtures of the data-parallel tests: hand-made process groups, `trainwell train` commands, a tiny recipe."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env(**extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "TORCHELASTIC_RUN_ID")}
    out.update(OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT), **extra)
    return out


def run_group(mode: str, out: Path, world: int = 2, timeout_s: float = 180, **extra: str) -> None:
    """`worker.py MODE OUT` in `world` processes joined through MASTER_ADDR/PORT (no launcher)."""
    port = str(free_port())
    procs = [subprocess.Popen([sys.executable, str(HERE / "worker.py"), mode, str(out)],
                              env=env(RANK=str(r), WORLD_SIZE=str(world), LOCAL_RANK=str(r), MASTER_ADDR="127.0.0.1",
                                      MASTER_PORT=port, **extra), stderr=subprocess.PIPE, text=True)
             for r in range(world)]
    try:
        for p in procs:
            p.wait(timeout=timeout_s)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    errors = [p.stderr.read() for p in procs if p.returncode not in (0, None)]
    assert not errors, errors


def train_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "trainwell", "train", "--quiet", "--no-report", *args]


def records(run_dir: Path, split: str) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["split"] == split]


@pytest.fixture
def ddp() -> SimpleNamespace:
    """run_group(mode, out, world), train_cmd(*args), records(run_dir, split), env(**extra)."""
    return SimpleNamespace(run_group=run_group, train_cmd=train_cmd, records=records, env=env)


@pytest.fixture
def tiny_recipe(tmp_path: Path) -> Path:
    """A small MLP on 512 MNIST-1D examples: 60 steps of a global batch of 32, evaluated every 10."""
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


TINY = """
name = "tiny"
seed = 0
[data]
name = "mnist1d"
train_subset = 512
val_fraction = 0.1
preprocess = ["global_standardize"]
[model]
name = "mlp"
widths = [32]
[optim]
name = "adamw"
lr = 3e-3
[train]
steps = 60
batch_size = 32
eval_every = 10
log_every = 5
"""
