"""Many models trained as ONE batched model (hyperparameter trials at once, seed ensembles).

See `train_many.py` for the mechanism (engines "mlp": hand-written backward for Linear nets,
"batched": bmm / grouped convolution + autograd, "vmap": anything else), `choose.py` for when
vectorizing beats training one by one (`choose_engine`), and `reference.py` for the exact
one-by-one semantics it matches (tests: parameters within 1e-4 relative after 50 steps,
identical accuracies, for adam, sgd+momentum, adamw, dropout, each engine).

Equality holds up to float32 rounding: the batched matmuls sum in another order than the
single-model ones, so at chaotic settings (Adam with lr ≈ 0.1) the 1e-7 differences grow to O(1)
after a few hundred steps (measured: 1e-6 at step 50, ~1 at step 300, for lr 0.08–0.1; lr ≤ 3e-2
stays below 2e-4). Results stay exactly reproducible run to run.

Measured numbers: bench/bench_search_vectorized.py (the MNIST-1D MLP search), bench/bench_ensemble.py
(ConvNet ensembles) and bench/bench_vectorized.py (speedup by architecture and K); summarized in
`choose.py`.
"""
from trainwell.vectorized.choose import Choice, choose_engine
from trainwell.vectorized.hparams import Trial, parse_trials
from trainwell.vectorized.reference import OneResult, reference_train_one
from trainwell.vectorized.result import ManyResult
from trainwell.vectorized.train_many import train_many

__all__ = ["Choice", "ManyResult", "OneResult", "Trial", "choose_engine", "parse_trials", "reference_train_one", "train_many"]
