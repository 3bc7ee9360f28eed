"""Many models trained as ONE batched model (hyperparameter trials at once, seed ensembles).

See `train_many.py` for the mechanism and `reference.py` for the exact semantics it matches.
"""
from trainwell.ensemble.vectorized.hparams import Trial, parse_trials
from trainwell.ensemble.vectorized.reference import OneResult, reference_train_one
from trainwell.ensemble.vectorized.result import ManyResult
from trainwell.ensemble.vectorized.train_many import train_many

__all__ = ["ManyResult", "OneResult", "Trial", "parse_trials", "reference_train_one", "train_many"]
