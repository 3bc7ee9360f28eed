"""Early verdicts: is a run that has only just started already hopeless? (for pruning a search)

`hopeless(records, budget_steps=..., majority_rate=...)` is a pure function of the run's records so
far — the Trainer's metric records (``{"split": "train", "step", "loss"}`` per log window,
``{"split": "val", "step", "accuracy"}`` per evaluation) and, optionally, the statistics records
of `StatsCallback` — and returns why the run cannot become good, or None:

1. *diverged*: a non-finite training loss (any time).
2. *not learning*: from `learn_at` (25 %) of the budget on, the training loss of the latest log
   window is not below `learn_ratio` (97 %) of the first window's.
3. *at chance*: from `chance_at` (50 %) of the budget on, the latest validation accuracy is within
   3 binomial standard deviations of the majority-class rate p, ``acc ≤ p + 3·√(p(1 − p)/n_val)``
   (with no `n_val`: within `chance_margin`, 2 points) — chance is the majority rate, not 1/C.
4. *dead units*: from `dead_at` (10 %) of the budget on, in the latest statistics record a
   ReLU-family layer has ≥ `dead_max` (95 %) of its units dead (≤ 0 on the whole batch): they pass
   no gradient and do not come back.

Each verdict is the doctor's rule for the same symptom (`trainwell.doctor.run_checks`), made safe
to apply while a run is still young: the thresholds are looser and each waits for its share of
the budget, because early loss curves are noisy and accuracy lags the loss.

Example:
    >>> train = [{"split": "train", "step": 20 * i, "loss": 2.30} for i in range(1, 6)]
    >>> hopeless(train, budget_steps=400, majority_rate=0.1)
    'not learning: the training loss 2.3 at step 100 is not below 97% of its first window (2.3)'
"""
from __future__ import annotations

import math
from typing import Any

LEARN_AT, LEARN_RATIO = 0.25, 0.97
CHANCE_AT, CHANCE_SIGMAS, CHANCE_MARGIN = 0.5, 3.0, 0.02
DEAD_AT, DEAD_MAX = 0.1, 0.95


def hopeless(records: list[dict[str, Any]], *, budget_steps: int, majority_rate: float | None,
             stats: list[dict[str, Any]] | None = None, n_val: int | None = None, learn_at: float = LEARN_AT,
             learn_ratio: float = LEARN_RATIO, chance_at: float = CHANCE_AT, sigmas: float = CHANCE_SIGMAS,
             chance_margin: float = CHANCE_MARGIN, dead_at: float = DEAD_AT, dead_max: float = DEAD_MAX) -> str | None:
    """Why the run whose records are `records` is hopeless (None: it is not). See the module docstring."""
    if budget_steps < 1:
        raise ValueError(f"hopeless: budget_steps must be ≥ 1, got {budget_steps}")
    train = [r for r in records if r.get("split") == "train" and "loss" in r]
    for r in train:
        loss = r["loss"]
        if loss is None or not math.isfinite(loss):
            return f"diverged: the training loss became {loss} at step {r.get('step')}"
    if len(train) >= 2 and train[-1]["step"] >= learn_at * budget_steps:
        first, last = train[0]["loss"], train[-1]["loss"]
        if not last < learn_ratio * first:
            return (f"not learning: the training loss {last:.3g} at step {train[-1]['step']} is not below "
                    f"{100 * learn_ratio:.0f}% of its first window ({first:.3g})")
    val = [r for r in records if r.get("split") == "val" and r.get("accuracy") is not None]
    if majority_rate is not None and val and val[-1]["step"] >= chance_at * budget_steps:
        acc, p = val[-1]["accuracy"], majority_rate
        bound = p + (sigmas * math.sqrt(p * (1 - p) / n_val) if n_val else chance_margin)
        if acc <= bound:
            how = f"{sigmas:g} sigmas (n={n_val})" if n_val else f"{100 * chance_margin:.0f} points"
            return (f"at chance: validation accuracy {100 * acc:.1f}% at step {val[-1]['step']} is within {how} of "
                    f"the majority-class rate {100 * p:.1f}%")
    if stats:
        latest = [s for s in stats if s.get("phase", "train") == "train"]
        if latest and latest[-1].get("step", 0) >= dead_at * budget_steps:
            for layer in latest[-1].get("layers", []):
                dead = layer.get("dead_frac")
                if dead is not None and dead >= dead_max:
                    return (f"dead units: {100 * dead:.0f}% of the units of {layer.get('name')} never fire at step "
                            f"{latest[-1]['step']} (≥ {100 * dead_max:.0f}%): they pass no gradient")
    return None


__all__ = ["hopeless"]
