"""Hyperparameter search on Optuna: samplers, pruners, storages; coarse→fine stages, many trials at once.

The lectures' advice as code: sample on a log scale, prefer random search to grid search
(Bergstra & Bengio 2012), run a coarse stage of short runs over wide ranges and then a fine stage
of longer runs around the best. Optuna does the bookkeeping: each stage is a study, workers
ask/tell trials through its storage (a journal file, or PostgreSQL for several machines), its
heartbeat retries the trials of a dead worker, its samplers (random, grid, TPE, CMA-ES) propose
and its pruners (median, Hyperband) stop trials. trainwell adds what Optuna lacks, as thin layers
on ask/tell: coarse→fine stages, vectorized batches (K trials as one model), "hopeless" verdicts.

See `space` (distributions), `plan` (the [search] table), `samplers`, `pruning` and
`prune_callback` (the Trainer side), `storage`/`journal`/`redact` (where studies live, heartbeats,
masked passwords), `worker` (ask/run/tell), `runner` (stages, processes, resuming), `objective` (a
trial of a recipe: Trainer or vectorized), `records` (plain records); the best recipe
is written as TOML by `trainwell.toml_text`.
"""
from trainwell.search.objective import RecipeObjective, TrialSpec, trial_raw
from trainwell.search.plan import SearchPlan, Stage, parse_stages, plan_from_table
from trainwell.search.pruning import hopeless
from trainwell.search.runner import SearchResult, run_search
from trainwell.search.sampling import narrow_space, sample_points
from trainwell.search.space import Dim, parse_space

__all__ = ["Dim", "RecipeObjective", "SearchPlan", "SearchResult", "Stage", "TrialSpec", "hopeless",
           "narrow_space", "parse_space", "parse_stages", "plan_from_table", "run_search", "sample_points", "trial_raw"]
