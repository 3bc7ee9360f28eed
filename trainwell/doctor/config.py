"""`DoctorConfig`: the doctor's budgets and every threshold its checks compare against.

All rules live here, with the numbers the checklist prints, so a verdict can be traced to a
stated threshold (and tuned in one place). `DoctorConfig.quick()` shrinks the budgets for
`trainwell doctor --quick` and for tests; the thresholds stay the same.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any


@dataclass
class DoctorConfig:
    """Budgets (examples, steps) and thresholds of `trainwell.doctor.diagnose`."""

    # ---------------------------------------------------------------- budgets
    max_train: int | None = 4000      # training examples the doctor uses at most (seeded subset)
    loss_batch: int = 512             # examples for the initial-loss and regularization checks
    overfit_examples: int = 20        # the lectures' "tiny subset"
    overfit_steps: int = 300          # full-batch steps allowed to reach 100 % training accuracy
    overfit_lr: float = 1e-3          # plain Adam, no weight decay
    overfit_check_every: int = 10     # steps between accuracy checks (one host sync each)
    lr_steps: int = 100               # LR range test: exponential sweep start_lr → end_lr
    lr_start: float = 1e-7
    lr_end: float = 10.0
    short_steps: int = 400            # the short training run with statistics
    stats_every: int = 20             # StatsCallback sampling period in the short run
    bins: int = 40
    log_every: int = 10
    eval_examples: int = 2000         # cap on train/val examples evaluated after the short run
    seed: int = 0

    # ---------------------------------------------------------------- data
    center_tol: float = 0.5           # warn if mean_j |μ_j| > 0.5 · mean_j σ_j (not zero-centered)
    scale_band: tuple[float, float] = (0.2, 5.0)  # warn if mean_j σ_j outside (not unit scale)
    constant_rtol: float = 1e-6       # a feature is constant if σ_j ≤ 1e-6 · (1 + |μ_j|)
    fit_rtol: float = 1e-4            # the pipeline's statistics equal a refit on train within this

    # ---------------------------------------------------------------- initial loss
    init_loss_rtol: float = 0.5       # pass if |L₀ − log C| ≤ 50 % of log C (see loss_checks)
    init_loss_fail: float = 2.0       # fail if L₀ > 2 · log C
    strong_l2: float = 1e-2           # L2 strength added when the recipe has no regularization
    reg_min_rise: float = 1e-3        # regularization must raise L₀ by > 0.1 % (relative)

    # ---------------------------------------------------------------- learning rate
    lr_high_warn: float = 10.0        # warn if optim.lr > 10 × the LR finder's suggestion
    lr_high_fail: float = 100.0       # fail if > 100 ×
    lr_low_warn: float = 30.0         # warn if optim.lr < suggestion / 30 (see lr_check: why 30)
    lr_low_fail: float = 300.0        # fail if < suggestion / 300

    # ---------------------------------------------------------------- short run
    collapsed_rel: float = 0.1        # activation std < 0.1 · input std → collapsed (as init_stats)
    exploded_rel: float = 10.0        # activation std > 10 · input std → exploded
    saturated_warn: float = 0.5       # > 50 % of tanh/sigmoid outputs in the flat tails
    dead_warn: float = 0.3            # ≥ 30 % of a ReLU layer's units never fire on a batch
    dead_fail: float = 0.7            # ≥ 70 % dead → fail
    grad_flow_band: tuple[float, float] = (1e-2, 1e2)  # grad std first/last activation layer
    update_band: tuple[float, float] = (1e-4, 1e-2)    # median ‖Δw‖/‖w‖ per weight (rule: ≈ 1e-3)
    loss_min_drop: float = 0.05       # the training loss must drop ≥ 5 % (first vs last log window)
    gap_warn: float = 0.15            # train − val accuracy > 15 points → overfitting
    chance_sigmas: float = 3.0        # val accuracy within 1/C + 3σ (binomial) → at chance

    def quick(self) -> "DoctorConfig":
        """Smaller budgets (same thresholds): `trainwell doctor --quick`, tests."""
        return replace(self, max_train=2000, loss_batch=256, overfit_steps=200, lr_steps=100,
                       short_steps=200, stats_every=10, eval_examples=1000)

    def capped(self, steps: int) -> "DoctorConfig":
        """Every loop of the doctor (overfit, LR sweep, short run) at most `steps` steps (smoke runs)."""
        steps = max(int(steps), 2)
        return replace(self, overfit_steps=min(self.overfit_steps, steps), lr_steps=min(self.lr_steps, steps),
                       short_steps=min(self.short_steps, steps), stats_every=min(self.stats_every, steps),
                       log_every=min(self.log_every, steps), overfit_check_every=min(self.overfit_check_every, steps))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
