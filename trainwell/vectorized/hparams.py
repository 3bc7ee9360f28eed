"""Per-trial hyperparameters of a batched run, checked once, up front.

Each trial is a plain dict; the keys are

=============  ========  ===========================================================
key            default   meaning
=============  ========  ===========================================================
seed           required  model init from ``Generator().manual_seed(seed)``, batches from
                         ``seed + 1``, dropout masks from ``seed + 2``
lr             required  base learning rate (multiplied by ``schedule(step, steps)``)
weight_decay   0.0       L2 added to the gradient (adam, sgd) or decoupled decay (adamw), on weights with ≥ 2
                         dims outside normalization layers only (the Trainer's rule; never on biases)
momentum       0.0       SGD heavy-ball momentum (sgd only)
dropout        None      rate of every Dropout/Dropout1d/Dropout2d module (None: keep the model's)
init_scale     None      every weight with ndim > 1 is multiplied by it after ``make_model``
=============  ========  ===========================================================

Example:
    >>> trials = parse_trials([{"seed": 0, "lr": 1e-3}, {"seed": 1, "lr": 3e-3, "dropout": 0.1}], "adam")
    >>> trials[1].dropout
    0.1
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from trainwell.errors import UserError, did_you_mean

OPTIMIZERS = ("adam", "sgd", "adamw")
KEYS = ("seed", "lr", "weight_decay", "momentum", "dropout", "init_scale")


@dataclass(frozen=True)
class Trial:
    """One trial's hyperparameters (validated)."""

    seed: int
    lr: float
    weight_decay: float = 0.0
    momentum: float = 0.0
    dropout: float | None = None
    init_scale: float | None = None


def _number(i: int, key: str, value: Any, low: float, high: float, *, high_open: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and low <= value and (value < high if high_open else value <= high)
    if not ok:
        bracket = ")" if high_open else "]"
        raise UserError(f"hparams[{i}][{key!r}] must be a number in [{low}, {high}{bracket}, got {value!r}")
    return float(value)


def parse_trials(hparams: list[dict[str, Any]], optimizer: str) -> list[Trial]:
    """Validate a list of per-trial dicts for `optimizer` ("adam", "sgd" or "adamw")."""
    if optimizer not in OPTIMIZERS:
        raise UserError(f"optimizer must be one of {list(OPTIMIZERS)}, got {optimizer!r}{did_you_mean(optimizer, OPTIMIZERS)}")
    if not isinstance(hparams, (list, tuple)) or len(hparams) == 0:
        raise UserError(f"hparams must be a non-empty list of dicts (one per trial), got {hparams!r}")
    trials = []
    for i, h in enumerate(hparams):
        if not isinstance(h, dict):
            raise UserError(f"hparams[{i}] must be a dict, got {type(h).__name__}")
        unknown = [k for k in h if k not in KEYS]
        if unknown:
            raise UserError(f"hparams[{i}] has unknown key {unknown[0]!r}{did_you_mean(unknown[0], KEYS)}; valid keys: {list(KEYS)}")
        for key in ("seed", "lr"):
            if key not in h:
                raise UserError(f"hparams[{i}] needs a {key!r} (every trial's randomness and step size are explicit)")
        seed = h["seed"]
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise UserError(f"hparams[{i}]['seed'] must be a non-negative int, got {seed!r}")
        momentum = _number(i, "momentum", h.get("momentum", 0.0), 0.0, 1.0, high_open=True)
        if momentum != 0.0 and optimizer != "sgd":
            raise UserError(f"hparams[{i}]['momentum'] = {momentum} applies to optimizer='sgd' only, got optimizer={optimizer!r}")
        dropout = h.get("dropout")
        init_scale = h.get("init_scale")
        trials.append(
            Trial(
                seed=seed,
                lr=_number(i, "lr", h["lr"], 0.0, math.inf),
                weight_decay=_number(i, "weight_decay", h.get("weight_decay", 0.0), 0.0, math.inf),
                momentum=momentum,
                dropout=None if dropout is None else _number(i, "dropout", dropout, 0.0, 1.0, high_open=True),
                init_scale=None if init_scale is None else _number(i, "init_scale", init_scale, 0.0, math.inf),
            )
        )
    return trials
