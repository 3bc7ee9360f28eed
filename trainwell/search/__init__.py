"""Hyperparameter search: log-scale spaces, random / grid / coarse-to-fine, an Optuna study, many trials at once.

The lectures' advice as code: sample on a log scale, prefer random search to grid search
(Bergstra & Bengio 2012), run a coarse stage of short runs over wide ranges and then a fine stage
of longer runs around the best. See `space` (distributions), `sampling` (points, narrowing),
`plan` (the [search] table), `queue`/`worker`/`runner` (the Optuna study, workers, resuming),
`objective` (a trial of a recipe: Trainer or vectorized), `toml_out` (the best recipe as TOML).
"""
from trainwell.search.objective import RecipeObjective, trial_raw
from trainwell.search.plan import SearchPlan, Stage, parse_stages, plan_from_table
from trainwell.search.runner import SearchResult, run_search
from trainwell.search.sampling import narrow_space, sample_points
from trainwell.search.space import Dim, parse_space
from trainwell.search.toml_out import dumps, write_toml
from trainwell.search.worker import TrialSpec

__all__ = ["Dim", "RecipeObjective", "SearchPlan", "SearchResult", "Stage", "TrialSpec", "dumps", "narrow_space",
           "parse_space", "parse_stages", "plan_from_table", "run_search", "sample_points", "trial_raw", "write_toml"]
