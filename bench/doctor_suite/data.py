"""The suite's data files (bench/doctor_suite/_data/*.npz), each MNIST-1D with one data fault.

    clean          MNIST-1D as it is (4000 train, 1000 test signals of length 40)
    uncentered     x·100 + 500 (and no preprocessing in its recipe): not normalized
    feature_scale  position 5 of every signal ×1000: one feature dwarfs the others
    shuffled       the training labels permuted: they no longer belong to their inputs
    imbalanced     class 0 kept whole, every other class cut to 10 %: a 10:1 imbalance
    duplicates     the test split replaced by copies of training examples (with their labels)
    sorted         the training examples sorted by label (the recipe turns shuffling off)
    off_by_one     labels 1..10 instead of 0..9
    nan            1 % of the input values NaN

Deterministic (numpy seed 0); rebuilt when missing. Run `python bench/doctor_suite/data.py`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"


def mnist1d_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from trainwell.data.sources import DATASETS

    x, y, xt, yt = DATASETS.get("mnist1d").constructor()
    return x.astype(np.float32), y.astype(np.int64), xt.astype(np.float32), yt.astype(np.int64)


def build(force: bool = False) -> Path:
    DATA.mkdir(exist_ok=True)
    x, y, xt, yt = mnist1d_arrays()
    rng = np.random.default_rng(0)
    files = {
        "clean": (x, y, xt, yt),
        "uncentered": (x * 100 + 500, y, xt * 100 + 500, yt),
        "shuffled": (x, rng.permutation(y), xt, yt),
        "off_by_one": (x, y + 1, xt, yt + 1),
    }
    fs, fst = x.copy(), xt.copy()
    fs[..., 5] *= 1000.0
    fst[..., 5] *= 1000.0
    files["feature_scale"] = (fs, y, fst, yt)
    keep = (y == 0) | (rng.random(len(y)) < 0.1)
    keep_t = (yt == 0) | (rng.random(len(yt)) < 0.1)
    files["imbalanced"] = (x[keep], y[keep], xt[keep_t], yt[keep_t])
    dup = rng.choice(len(x), size=len(xt), replace=False)
    files["duplicates"] = (x, y, x[dup], y[dup])
    order = np.argsort(y, kind="stable")
    files["sorted"] = (x[order], y[order], xt, yt)
    xn = x.copy()
    xn.reshape(-1)[rng.choice(xn.size, size=xn.size // 100, replace=False)] = np.nan
    files["nan"] = (xn, y, xt, yt)
    for name, (a, b, c, d) in files.items():
        path = DATA / f"{name}.npz"
        if force or not path.exists():
            np.savez(path, x=a, y=b, x_test=c, y_test=d)
    return DATA


if __name__ == "__main__":
    print(build(force=True))
