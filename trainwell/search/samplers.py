"""Where the next trial goes: Optuna's samplers, one seed per trial.

``--sampler`` (recipe key ``search.sampler``):

* ``random`` — `RandomSampler`: independent draws (log-uniform for log-scaled dims). The lectures'
  default (Bergstra & Bengio 2012).
* ``grid`` — `GridSampler` over ``m`` points per numeric dim (see `sampling.grid_of`), every
  point once (trial n gets grid point n); the trial count is the grid's size.
* ``tpe`` — `TPESampler(multivariate=True, constant_liar=True)`: the Tree-structured Parzen
  Estimator (Bergstra et al. 2011) modelling the dims jointly (Falkner et al. 2018), after 10
  random start-up trials; the constant liar counts trials still running as bad, so parallel
  workers and vectorized batches do not all propose the same point.
* ``cmaes`` — `CmaEsSampler` (Hansen 2016; needs the ``cmaes`` package): continuous and integer
  dims only — a space with a choice dim is refused (CMA-ES would silently sample it at random).

Seeds: every process that asks for trials (local workers, other machines, a resumed run) would
draw the same sequence from one seeded sampler and propose the same points. So the sampler of a
trial is seeded with ``trial_seed(seed, stage, trial number)``, set after `study.ask()` (which
numbers the trial) and before its first suggestion (Optuna samples lazily, at the first
``suggest_*``): random search proposes the same points whatever the number of workers, and a
resumed search never repeats one. A grid's sampler keeps one seed per stage (`sampler_seed`).
"""
from __future__ import annotations

import numpy as np
import optuna

from trainwell.errors import UserError, did_you_mean
from trainwell.search.sampling import encoded_grid
from trainwell.search.space import Dim

SAMPLERS = ("random", "grid", "tpe", "cmaes")
TPE_STARTUP = 10


class AskTellGridSampler(optuna.samplers.GridSampler):
    """`GridSampler` without the ``study.stop()`` of its `after_trial` (which only works inside
    ``study.optimize``): with ask/tell, the stage's budget — the grid's size — ends the stage.
    Optuna gives trial number n < grid size the grid point n, so every point runs once."""

    def after_trial(self, study, trial, state, values) -> None:  # noqa: D102
        return None


def check_sampler(name: str, space: list[Dim], source: str = "search.sampler") -> None:
    """A `UserError` for an unknown sampler, or CMA-ES on a space with a choice dim."""
    if name not in SAMPLERS:
        raise UserError(f"{source} must be one of {list(SAMPLERS)}, got {name!r}{did_you_mean(str(name), SAMPLERS)}")
    if name == "cmaes":
        choice = [d.name for d in space if not d.numeric]
        if choice:
            raise UserError(f"{source} = \"cmaes\" needs a continuous space (CMA-ES samples real vectors), but "
                            f"{choice} {'is a choice' if len(choice) == 1 else 'are choices'}; use sampler \"tpe\" "
                            "(handles choices) or drop the choice dims")
        try:
            import cmaes  # noqa: F401
        except ImportError:
            raise UserError(f"{source} = \"cmaes\" needs the cmaes package: pip install cmaes") from None


def trial_seed(seed: int, stage: int, number: int) -> int:
    """A 32-bit seed for trial `number` of `stage` in a search seeded `seed` (independent streams)."""
    return int(np.random.SeedSequence([seed, stage, number]).generate_state(1)[0])


def sampler_seed(name: str, seed: int, stage: int, number: int) -> int:
    """The seed of trial `number`'s sampler: per trial, except for a grid, whose seed shuffles the
    grid's order (``GridSampler`` maps trial n to point n of its shuffled grid), so all trials and
    workers of a stage must share it."""
    return trial_seed(seed, stage, 0 if name == "grid" else number)


def make_sampler(name: str, space: list[Dim], trials: int, seed: int) -> optuna.samplers.BaseSampler:
    """The Optuna sampler `name` over `space` (`trials`: the grid's budget) seeded `seed`."""
    check_sampler(name, space)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        return AskTellGridSampler({d.name: encoded_grid(d, trials, space) for d in space}, seed=seed)
    if name == "tpe":
        return optuna.samplers.TPESampler(multivariate=True, constant_liar=True, n_startup_trials=TPE_STARTUP,
                                          seed=seed)
    return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)


def batch_limit(name: str, trials: int, space: list[Dim]) -> int:
    """Most trials one vectorized batch should ask at once for sampler `name`.

    Random and grid points do not depend on results: any batch. TPE learns from finished trials:
    a quarter of the budget per batch (32 trials: 4 rounds of 8). CMA-ES: one generation
    (population 4 + ⌊3 ln d⌋).
    """
    if name in ("random", "grid"):
        return trials
    if name == "cmaes":
        return 4 + int(3 * np.log(max(len(space), 1)))
    return max(1, trials // 4)
