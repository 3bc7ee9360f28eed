"""Optimization: optimizers by name, parameter groups (no decay on bias/norm, per-layer LR
scales), closed-form LR schedules with warmup, the LR scheduler that applies them, and L1/L2/
elastic-net penalties.

    opt = build_optimizer(model, "nesterov", lr=0.1, weight_decay=5e-4)
    sched = LRScheduler(opt, build_schedule({"name": "cosine", "warmup_fraction": 0.05}), 0.1, total_steps)
"""
from trainwell.optim.cyclic import CosineRestarts, Cyclic, OneCycle
from trainwell.optim.lr_scheduler import LRScheduler
from trainwell.optim.registry import build_optimizer
from trainwell.optim.param_groups import NORM_TYPES, classify_parameters, is_norm_module, param_groups
from trainwell.optim.penalties import Penalty, elastic_net, l1_penalty, l2_penalty
from trainwell.optim.registry import OPTIMIZERS, SCHEDULES, build_schedule
from trainwell.optim.schedules import Constant, Cosine, Exponential, Linear, Schedule, Step
from trainwell.optim.warmup import WithWarmup, with_warmup

__all__ = [
    "NORM_TYPES",
    "OPTIMIZERS",
    "SCHEDULES",
    "Constant",
    "Cosine",
    "CosineRestarts",
    "Cyclic",
    "Exponential",
    "LRScheduler",
    "Linear",
    "OneCycle",
    "Penalty",
    "Schedule",
    "Step",
    "WithWarmup",
    "build_optimizer",
    "build_schedule",
    "classify_parameters",
    "elastic_net",
    "is_norm_module",
    "l1_penalty",
    "l2_penalty",
    "param_groups",
    "with_warmup",
]
