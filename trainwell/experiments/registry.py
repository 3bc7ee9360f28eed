"""Experiments by name: `trainwell experiment NAME`, one lecture claim each.

Every entry of `CLAIMS` names the claim in one line, its source (lecture or paper) and the
function that measures it, as 'module:function'. Functions take `budget` ("smoke" | "quick" |
"full"), `progress` and `out_dir` keyword arguments and return an `ExperimentResult`; the search
engineer's two (random-vs-grid, coarse-to-fine) take the older `quick` flag and are adapted here.
Modules are imported only when the experiment runs. `run_claim` runs one, times it and fills in
the source and budget.
"""
from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from trainwell.experiments.budget import Budget
from trainwell.experiments.result import ExperimentResult
from trainwell.registry import Registry

EXPERIMENTS = Registry("experiment")


@dataclass(frozen=True)
class Claim:
    name: str
    claim: str
    source: str
    target: str
    style: str = "budget"  # "budget": f(budget=...); "quick": f(quick=bool) (search_claims)


CLAIMS: dict[str, Claim] = {}


def _lazy(target: str, style: str) -> Callable[..., ExperimentResult]:
    module, function = target.split(":")

    def run(budget: str = "full", progress: bool = False, out_dir: Path | None = None) -> ExperimentResult:
        fn = getattr(importlib.import_module(module), function)
        if style == "quick":
            return fn(quick=Budget.of(budget).name != "full", progress=progress, out_dir=out_dir)
        return fn(budget=Budget.of(budget).name, progress=progress, out_dir=out_dir)

    run.__doc__ = f"runs {target}"
    return run


def add(name: str, claim: str, source: str, target: str, style: str = "budget") -> None:
    CLAIMS[name] = Claim(name, claim, source, target, style)
    EXPERIMENTS.add(name, _lazy(target, style), claim)


def run_claim(name: str, budget: str = "full", progress: bool = False, out_dir: Path | None = None) -> ExperimentResult:
    """Run experiment `name` (UserError with the closest name when unknown); the result carries its
    source, budget and wall time."""
    entry = EXPERIMENTS.get(name)
    meta = CLAIMS[name]
    start = time.perf_counter()
    result = entry.constructor(budget=Budget.of(budget).name, progress=progress, out_dir=out_dir)
    result.seconds = time.perf_counter() - start
    result.budget = Budget.of(budget).name if meta.style == "budget" else ("full" if budget == "full" else "quick")
    result.source = result.source or meta.source
    result.name = name
    return result


E = "trainwell.experiments."
KRIZHEVSKY = "Krizhevsky, Sutskever & Hinton 2012 (AlexNet), Fig. 1; CS231n lecture 6"
# --- activations
add("relu-vs-tanh", "ReLU nets reach a target training error several times faster than tanh nets (AlexNet: 6×)",
    KRIZHEVSKY, E + "relu_vs_tanh:run")
add("sigmoid-saturation", "saturated sigmoid units kill gradients: deep sigmoid nets get vanishing gradients in early layers",
    "CS231n lecture 6 (activation functions); Glorot & Bengio 2010", E + "sigmoid_saturation:run")
add("zero-centered", "non-zero-centered activations (sigmoid) make a neuron's weight gradients share one sign (zig-zag) and train slower than tanh",
    "CS231n lecture 6; LeCun et al. 1998 (Efficient BackProp)", E + "zero_centered:run")
add("dead-relu", "a too-high learning rate leaves ReLU units dead (never active again); Leaky ReLU does not die",
    "CS231n lecture 6 (dead ReLU); Maas et al. 2013", E + "dead_relu:run")
add("selu", "SELU with LeCun init keeps activations normalized through a deep net without BatchNorm and trains it",
    "Klambauer et al. 2017 (Self-Normalizing Neural Networks); EECS 498 lecture 10", E + "selu_selfnorm:run")
# --- preprocessing and initialization
add("preprocessing", "standardization beats mean-centering beats no preprocessing (min-max, PCA whitening compared)",
    "CS231n lecture 6; EECS 498 lecture 10 (table of three CNNs)", E + "preprocessing:run")
add("init-constant", "constant (zero) init breaks no symmetry: every hidden unit stays identical and the net learns like one unit",
    "CS231n lecture 6 (weight initialization)", E + "init_constant:run")
add("init-tanh", "deep tanh nets: N(0, 0.01²) collapses, N(0, 1) saturates, Xavier trains",
    "CS231n lecture 6; Glorot & Bengio 2010", E + "init_scale:run_tanh")
add("init-relu", "deep ReLU nets: Xavier shrinks activations layer by layer, Kaiming keeps them and trains faster",
    "He et al. 2015 (MSRA init); CS231n lecture 6", E + "init_scale:run_relu")
add("zero-init-residual", "zero-initialising the last layer of each residual branch keeps Var(x + F(x)) from growing with depth",
    "Goyal et al. 2017; EECS 498 lecture 10", E + "zero_init_residual:run")
# --- normalization
add("batchnorm-lr-init", "BatchNorm allows higher learning rates and makes training robust to the init scale",
    "Ioffe & Szegedy 2015; CS231n lecture 6", E + "batchnorm_grid:run")
add("batchnorm-train-eval", "BatchNorm behaves differently in training (batch statistics) and evaluation (running averages)",
    "Ioffe & Szegedy 2015; CS231n lecture 6 (a common source of bugs)", E + "batchnorm_modes:run")
add("batchnorm-fold", "at test time BatchNorm folds into the preceding layer: same outputs, less inference time",
    "Ioffe & Szegedy 2015; CS231n lecture 6 (zero test-time cost)", E + "batchnorm_fold:run")
# --- regularization
add("regularization", "dropout, L2, augmentation and mixup shrink the train−val gap on a small training set",
    "CS231n lecture 7 (regularization)", E + "regularization:run")
add("dropout-gap", "dropout shrinks the gap between training and validation accuracy of a big net on little data",
    "Srivastava et al. 2014; CS231n lecture 7", E + "dropout_gap:run")
add("dropout-test-scaling", "dropout's test-time scaling approximates averaging the predictions of many dropout masks",
    "Srivastava et al. 2014 (weight scaling inference rule); CS231n lecture 7", E + "dropout_scaling:run")
add("augmentation-gap", "data augmentation shrinks the train−val gap and raises validation accuracy",
    "CS231n lecture 7 (data augmentation)", E + "augmentation_gap:run")
add("dropblock", "DropBlock regularizes conv features better than dropout at the same drop rate",
    "Ghiasi, Lin & Le 2018 (DropBlock); EECS 498 lecture 11", E + "dropblock_vs_dropout:run")
add("label-smoothing", "label smoothing raises accuracy a little and makes the network less over-confident",
    "Szegedy et al. 2016; Müller et al. 2019; EECS 498 lecture 11", E + "label_smoothing:run")
add("mixup-cutout", "mixup and cutout help especially on small classification data sets",
    "Zhang et al. 2018 (mixup); DeVries & Taylor 2017 (cutout); EECS 498 lecture 11", E + "mixup_cutout:run")
# --- optimization
add("optimizers", "momentum, Nesterov, RMSProp and Adam train faster than plain SGD (each at its best LR)",
    "CS231n lecture 7 (optimization); Kingma & Ba 2015", E + "optimizers:run")
add("loss-surface", "on an ill-conditioned 2-D loss, SGD zig-zags; momentum, Nesterov, RMSProp and Adam get further",
    "CS231n lecture 7 (optimization figures)", E + "loss_surface:run")
add("lr-too-high-low", "too low a learning rate barely moves the loss, too high diverges; a good one is in between",
    "CS231n lecture 6 (babysitting: learning rate)", E + "lr_range:run")
add("lr-decay", "step, cosine and linear decay end at a lower loss than a constant learning rate",
    "CS231n lecture 7; Loshchilov & Hutter 2017 (cosine)", E + "lr_decay:run")
add("warmup-large-batch", "a large batch with a linearly scaled LR needs warmup to match the small-batch result",
    "Goyal et al. 2017 (Accurate, Large Minibatch SGD)", E + "warmup_large_batch:run")
add("cyclic-lr", "a cyclic learning rate reaches a given accuracy in clearly fewer steps than a fixed one",
    "Smith 2017 (Cyclical Learning Rates); CS231n lecture 7", E + "cyclic_lr:run")
# --- babysitting
add("initial-loss", "at init the loss is ≈ log C (chance) and adding regularization raises it",
    "CS231n lecture 6 (babysitting, step 3)", E + "initial_loss:run")
add("overfit-tiny", "with regularization off and plain SGD, a net reaches 100% training accuracy on 20 examples",
    "CS231n lecture 6 (babysitting, step 4)", E + "overfit_tiny:run")
add("update-ratio", "at a good learning rate the update/weight ratio ‖Δw‖/‖w‖ is about 1e-3",
    "CS231n lecture 6 (babysitting); Karpathy's notes", E + "update_ratio:run")
add("gradcheck", "gradient check: a correct backward gives relative error < 1e-7 in float64, a wrong one > 1e-2; "
    "float32 and kinks give larger errors", "CS231n notes (gradient checks)", E + "gradcheck_claims:run")
# --- search
add("random-vs-grid", "random search beats grid search when only one of two hyperparameters matters",
    "Bergstra & Bengio 2012; CS231n lecture 6", E + "search_claims:run_random_vs_grid", "quick")
add("coarse-to-fine", "coarse→fine stages find a config at least as good as random search with the same total steps",
    "CS231n lecture 6 (hyperparameter search)", E + "search_claims:run_coarse_to_fine", "quick")
# --- after training
add("ensemble", "an ensemble of 5 (mean of probabilities) beats the mean of its members by >= 1 point",
    "CS231n lecture 7 (model ensembles: typically +2%)", E + "ensemble_members:run")
add("weight-averaging", "EMA/SWA weights at the end of a short run score at least as well as the raw weights",
    "Polyak & Juditsky 1992; Izmailov et al. 2018 (SWA); CS231n lecture 7", E + "ensemble_averaging:run")
add("snapshot-ensemble", "a snapshot ensemble (one cyclic run) beats a single model trained with the same budget",
    "Huang et al. 2017 (Snapshot Ensembles); CS231n lecture 7", E + "snapshot_ensemble:run")
add("tta", "test-time augmentation (averaging predictions over views) raises test accuracy",
    "Krizhevsky et al. 2012 (10 crops); CS231n lecture 7", E + "tta:run")
add("transfer", "pretrain on MNIST-1D digits 0-4, transfer to 5-9 with 5/20/100 per class vs from scratch",
    "CS231n lecture 7 (transfer learning); Yosinski et al. 2014", E + "transfer_demo:run")
add("transfer-2x2", "transfer learning's 2×2 advice: little/lots of data × similar/different data",
    "CS231n lecture 7 (transfer learning table)", E + "transfer_grid:run")
