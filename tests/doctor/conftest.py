"""Shared fixtures: the doctor on a recipe from tests/recipes_broken/, MNIST-1D arrays, .npz files."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from trainwell.config import load_recipe
from trainwell.data import load_data
from trainwell.doctor import DoctorConfig, diagnose

RECIPES = Path(__file__).resolve().parent.parent / "recipes_broken"

@pytest.fixture(scope="session")
def broken_recipe():
    """broken_recipe(name, *overrides) → the Recipe of tests/recipes_broken/<name>.toml."""
    return lambda name, *overrides: load_recipe(RECIPES / f"{name}.toml", list(overrides))


@pytest.fixture(scope="session")
def doctor(broken_recipe):
    """doctor(name, *overrides, budgets={...}, subject=...) → Diagnosis, quick budgets
    (optionally smaller still: faults visible at init need only a short run)."""

    def run(name: str, *overrides: str, budgets: dict | None = None, **kwargs):
        r = broken_recipe(name, *overrides)
        cfg = replace(DoctorConfig(seed=r.seed).quick(), **(budgets or {}))
        return diagnose(r, cfg, **kwargs)

    return run


@pytest.fixture(scope="session")
def mnist1d_arrays():
    """MNIST-1D train (x N×1×40, y) as numpy arrays, for .npz fixtures."""
    d = load_data("mnist1d", val_fraction=0.0)
    return d.x_train.numpy(), d.y_train.numpy()


def not_passing(result, check: str):
    return [f for f in result.findings if f.code == check and f.problem]


@pytest.fixture(scope="session")
def problems():
    """problems(result, code) → that code's warn/fail findings."""
    return not_passing


@pytest.fixture(scope="session")
def write_npz():
    def write(path: Path, x: np.ndarray, y: np.ndarray, **more: np.ndarray) -> Path:
        np.savez(path, x=x.astype(np.float32), y=y.astype(np.int64), **more)
        return path

    return write
