"""`DoctorConfig`: the doctor's budgets and every threshold its checks compare against.

All rules live here, with the numbers the checklist prints, so a verdict can be traced to a
stated threshold (and tuned in one place). `DoctorConfig.quick()` shrinks the budgets for
`trainwell doctor --quick` and for tests; `capped(n)` caps every loop at n steps (smoke runs);
the thresholds stay the same.

Budgets were set by measurement (bench/doctor_suite/run.py): the standard budget diagnoses the
default recipe in about 8.5 s of CPU time (one thread); the faults of the suite show within the
quick budget too.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from trainwell.diagnostics.init_stats import COLLAPSED, DEAD, EXPLODED, SATURATED


@dataclass
class DoctorConfig:
    """Budgets (examples, steps) and thresholds of `trainwell.doctor.diagnose`."""

    # ---------------------------------------------------------------- budgets
    max_train: int | None = 2000      # training examples the doctor uses at most (seeded subset)
    max_eval: int = 1000              # validation / training examples scored after a run
    loss_batch: int = 256             # examples for the static checks (initial loss, outputs, probes)
    overfit_examples: int = 20        # the lectures' "tiny subset"
    overfit_steps: int = 200          # full-batch steps allowed to reach 100 % training accuracy
    overfit_lr: float = 1e-3          # plain Adam, no weight decay
    overfit_check_every: int = 10     # steps between accuracy checks (one host sync each)
    capacity_examples: int = 200      # memorization test of capacity (run only when under-fitting shows)
    capacity_steps: int = 300
    capacity_lr: float = 3e-3
    capacity_min_acc: float = 0.9     # a network of enough capacity memorizes 200 examples to ≥ 90 %
    lr_steps: int = 60                # LR range test: exponential sweep start_lr → end_lr
    lr_start: float = 1e-6
    lr_end: float = 10.0
    short_steps: int = 150            # the short training run with statistics
    stats_every: int = 25             # StatsCallback sampling period in the short run
    bins: int = 40
    log_every: int = 10
    seed: int = 0

    # ---------------------------------------------------------------- data
    center_tol: float = 1.0           # unnormalized if |global mean| > 1·global std of the first layer's input
    scale_band: tuple[float, float] = (0.05, 20.0)  # … or its global std outside this band
    feature_scale_ratio: float = 100.0  # one feature's std > 100 × the median feature std → disparity
    constant_rtol: float = 1e-6       # a feature is constant if σ_j ≤ 1e-6 · (1 + |μ_j|) (reported, not a fault)
    fit_rtol: float = 1e-4            # the pipeline's statistics equal a refit on train within this
    imbalance_ratio: float = 4.0      # largest / smallest class count ≥ 4 → imbalanced
    imbalance_recall_gap: float = 0.15  # … a fault when balanced accuracy trails accuracy by > 15 points
    dup_warn: float = 0.01            # > 1 % of val/test examples also in train → leakage
    dup_rtol: float = 1e-3            # near duplicate: ‖a − b‖ ≤ 1e-3 · ‖a‖ (centered inputs)
    dup_max: int = 2000               # examples per split compared (seeded subset)
    batch_purity_excess: float = 0.25  # mean majority share per batch > random order's + 0.25 → unshuffled
    order_batches: int = 20           # batches whose labels are compared with a random order

    # ---------------------------------------------------------------- model and loss at init
    init_loss_rtol: float = 0.5       # pass if |L₀ − log C| ≤ 50 % of log C (see loss_checks)
    init_loss_fail: float = 2.0       # fail if L₀ > 2 · log C
    strong_l2: float = 1e-2           # L2 strength added when the recipe has no regularization
    reg_min_rise: float = 1e-3        # regularization must raise L₀ by > 0.1 % (relative)
    symmetric_rtol: float = 1e-6      # rows equal within 1e-6·(1 + max|w|) → identical units
    linear_rtol: float = 1e-4         # ‖f(a+b) − f(a) − f(b) + f(0)‖ ≤ 1e-4·scale → the network is affine
    prob_rtol: float = 1e-3           # outputs in [0, 1] summing to 1 ± 1e-3 per row → probabilities
    nonneg_zero_frac: float = 0.05    # outputs ≥ 0 with > 5 % exact zeros → a ReLU on the logits
    bn_min_batch: int = 16            # BatchNorm with batches below 16 …
    bn_tiny_batch: int = 4            # … is a fault at ≤ 4, or when eval and train mode disagree:
    bn_mode_gap: float = 0.1          # train-mode vs eval-mode accuracy on the same examples > 10 points

    # ---------------------------------------------------------------- learning rate
    lr_high_warn: float = 10.0        # optim.lr > 10 × the LR finder's suggestion → too high
    lr_high_fail: float = 100.0
    lr_low_warn: float = 30.0         # optim.lr < suggestion / 30 → too low (see lr_check: why 30)
    lr_low_fail: float = 300.0
    update_band: tuple[float, float] = (1e-4, 1e-1)  # SGD-family: median ‖Δw‖/‖w‖ per weight (rule ≈ 1e-3)
    clip_frac: float = 0.9            # clipped on ≥ 90 % of the logged steps …
    clip_ratio: float = 3.0           # … by a factor ≥ 3 (norm / threshold, median) → clips every step
    schedule_floor: float = 0.01      # the LR factor below 1 % …
    schedule_early: float = 0.5       # … before half of the run → the schedule reaches zero early

    # ---------------------------------------------------------------- short run
    collapsed_rel: float = COLLAPSED  # activation std < 0.1 · input std → collapsed (as init_stats)
    exploded_rel: float = EXPLODED    # activation std > 10 · input std → exploded
    saturated_warn: float = SATURATED  # > 20 % of tanh/sigmoid outputs in the flat tails (as init_stats)
    dead_warn: float = DEAD           # ≥ 30 % of a ReLU layer's units never fire on a batch
    dead_fail: float = 0.7            # ≥ 70 % dead → fail
    grad_flow_band: tuple[float, float] = (1e-2, 1e2)  # grad std first/last weight layer
    loss_min_drop: float = 0.05       # the training loss must drop ≥ 5 % (first vs last log window)
    oscillation: float = 1.0          # loss doubles between two log windows → unstable
    peak_rise: float = 1.5            # a log window's loss > 1.5 × the loss at init → the LR is too high
    underfit_acc: float = 0.9         # train accuracy below 90 % of the way from chance to 100 % → comparisons
    reg_gain: float = 0.15            # over-regularized: the run without regularization fits ≥ 15 points more …
    reg_fit: float = 0.6              # … while the original covered < 60 % of the way from chance to 100 %
    gap_warn: float = 0.3             # train − val accuracy > 30 points and val loss rising → overfitting
    chance_sigmas: float = 3.0        # val accuracy within majority rate + 3σ (binomial) → at chance

    def quick(self) -> "DoctorConfig":
        """Smaller budgets (same thresholds): `trainwell doctor --quick`, tests."""
        return replace(self, max_train=1000, max_eval=500, loss_batch=128, overfit_steps=150, lr_steps=40,
                       short_steps=100, stats_every=20, capacity_steps=200)

    def capped(self, steps: int) -> "DoctorConfig":
        """Every loop of the doctor (overfit, LR sweep, short run, comparisons) at most `steps` steps."""
        steps = max(int(steps), 2)
        return replace(self, overfit_steps=min(self.overfit_steps, steps), lr_steps=min(self.lr_steps, steps),
                       short_steps=min(self.short_steps, steps), stats_every=min(self.stats_every, steps),
                       log_every=min(self.log_every, steps), overfit_check_every=min(self.overfit_check_every, steps),
                       capacity_steps=min(self.capacity_steps, steps))

    @classmethod
    def from_budget(cls, budget: Any, seed: int = 0) -> "DoctorConfig":
        """"standard" | "quick" | an int (every loop capped at that many steps) | a DoctorConfig."""
        from trainwell.errors import UserError

        if isinstance(budget, DoctorConfig):
            return budget
        base = cls(seed=seed)
        if budget in (None, "standard", "full"):
            return base
        if budget == "quick":
            return base.quick()
        if isinstance(budget, int) and not isinstance(budget, bool) and budget >= 2:
            return base.quick().capped(budget)
        raise UserError(f"doctor: budget must be \"standard\", \"quick\", a number of steps ≥ 2 or a DoctorConfig, "
                        f"got {budget!r}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
