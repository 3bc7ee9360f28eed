"""Stopping trials early: Optuna's pruners and the "hopeless" verdicts.

**Pruners** (``--pruner``, recipe key ``search.pruner``) judge a trial by its validation figure
(accuracy, or loss with ``--objective val_loss``) reported after each evaluation, against the
other trials *of the same stage* (the same budget) at the same step:

* ``median`` — `optuna.pruners.MedianPruner`: stop a trial whose figure is worse than the median
  of the earlier trials at the same step (Golovin et al. 2017, "Google Vizier"), after 5 finished
  trials and not before 20% of the budget (early curves cross).
* ``hyperband`` — `optuna.pruners.HyperbandPruner` (Li et al. 2018): successive halving with
  reduction factor 3 in several brackets; resources are training steps, from budget/9 to the
  budget (three rungs per bracket).
* ``none`` — every trial runs its full budget (and no hopeless verdicts either).

**Hopeless verdicts** (with any pruner; ``search.hopeless = false`` turns them off) stop a trial
that cannot become good, whatever the other trials do — `hopeless(records, ...)`:

1. *diverged*: a non-finite training loss;
2. *not learning*: from 25% of the budget on, the training loss of the latest log window is not
   below 97% of the first window's;
3. *at chance*: from 50% of the budget on, the validation accuracy is within 3 binomial standard
   deviations of the majority-class rate p: ``acc <= p + 3·sqrt(p(1−p)/n_val)``.

Both kinds take the same path: the trial stops (`state.stop`) and is told PRUNED with the steps it
ran, which is what the "compute saved" figure of the report counts.

Example:
    >>> train = [{"split": "train", "step": 20 * i, "loss": 2.30} for i in range(1, 6)]
    >>> hopeless(train, total_steps=400)
    'not learning: the training loss 2.3 at step 100 is not below 97% of its first window (2.3)'
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import optuna

from trainwell.errors import UserError, did_you_mean

PRUNERS = ("none", "median", "hyperband")
LEARN_AT, LEARN_RATIO = 0.25, 0.97
CHANCE_AT, CHANCE_SIGMAS = 0.5, 3.0

Hopeless = Callable[..., "str | None"]


def hopeless(records: list[dict[str, Any]], total_steps: int, *, chance: float | None = None, n_val: int | None = None,
             learn_at: float = LEARN_AT, learn_ratio: float = LEARN_RATIO,
             chance_at: float = CHANCE_AT, sigmas: float = CHANCE_SIGMAS) -> str | None:
    """Why the run whose metric records are `records` is hopeless (None: it is not): the doctor's
    early verdicts (`trainwell.doctor.early.hopeless`, the one implementation).

    records: the Trainer's metric records so far, in order — ``{"split": "train", "step", "loss"}``
        per log window and ``{"split": "val", "step", "accuracy"}`` per evaluation.
    total_steps: the trial's budget. chance: the majority-class rate of the validation set;
        n_val: its size (the chance test is skipped without them).
    """
    from trainwell.doctor.early import hopeless as early

    if chance is None or not n_val:
        chance = None  # no chance test without the validation set's size (the doctor's margin is for the doctor)
    return early(records, budget_steps=total_steps, majority_rate=chance, n_val=n_val, learn_at=learn_at,
                 learn_ratio=learn_ratio, chance_at=chance_at, sigmas=sigmas)


def make_pruner(name: str, steps: int | None) -> optuna.pruners.BasePruner:
    """The Optuna pruner `name` for trials of `steps` steps (see the module docstring)."""
    if name not in PRUNERS:
        raise UserError(f"search.pruner must be one of {list(PRUNERS)}, got {name!r}{did_you_mean(str(name), PRUNERS)}")
    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=int(0.2 * steps) if steps else 0)
    if steps:
        return optuna.pruners.HyperbandPruner(min_resource=max(1, steps // 9), max_resource=steps, reduction_factor=3)
    return optuna.pruners.HyperbandPruner(min_resource=1, max_resource="auto", reduction_factor=3)
