"""The optim package's registries: OPTIMIZERS and SCHEDULES (name -> constructor), and
`build_schedule`, which reads the warmup keys of a schedule spec.

Example:
    >>> build_schedule({"name": "cosine", "min_factor": 0.01, "warmup_fraction": 0.05})
    with_warmup(cosine(min_factor=0.01), warmup_fraction=0.05, mode='linear')
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from trainwell.errors import UserError
from trainwell.optim import cyclic, optimizers, schedules
from trainwell.optim.checks import check_float
from trainwell.optim.param_groups import param_groups
from trainwell.optim.warmup import with_warmup
from trainwell.registry import Registry, Spec, split_spec

OPTIMIZERS = Registry("optimizer")
OPTIMIZERS.add("sgd", optimizers.sgd, "plain SGD: w -= lr g (options: momentum=0, nesterov=false)")
OPTIMIZERS.add("momentum", optimizers.sgd_momentum, "SGD + momentum 0.9: v = 0.9 v + g; w -= lr v")
OPTIMIZERS.add("nesterov", optimizers.sgd_nesterov, "SGD + Nesterov momentum 0.9: w -= lr (g + 0.9 v)")
OPTIMIZERS.add("rmsprop", optimizers.rmsprop, "RMSProp: per-parameter LR from a running mean of g^2 (alpha=0.99)")
OPTIMIZERS.add("adam", optimizers.adam, "Adam, bias-corrected moments; weight decay as coupled L2")
OPTIMIZERS.add("adamw", optimizers.adamw, "AdamW: Adam with decoupled weight decay")

SCHEDULES = Registry("schedule")
SCHEDULES.add("constant", schedules.Constant, "the base LR throughout")
SCHEDULES.add("step", schedules.Step, "x gamma every step_size (steps or fraction), or at milestones")
SCHEDULES.add("exponential", schedules.Exponential, "x gamma per step, or to final_factor at the last step")
SCHEDULES.add("cosine", schedules.Cosine, "half cosine from 1 to min_factor")
SCHEDULES.add("linear", schedules.Linear, "straight line from start_factor (1) to end_factor")
SCHEDULES.add("onecycle", cyclic.OneCycle, "1cycle (Smith & Topin 2018): up to the peak, then far down")
SCHEDULES.add("cyclic", cyclic.Cyclic, "triangular cycles between min_factor and 1 (Smith 2015)")
SCHEDULES.add("cosine_restarts", cyclic.CosineRestarts, "SGDR: cosine cycles with warm restarts (snapshots)")

WARMUP_KEYS = ("warmup_steps", "warmup_fraction", "warmup", "warmup_start_factor")


def build_schedule(spec: Spec | schedules.Schedule) -> schedules.Schedule:
    """A Schedule from a name or a table {"name": ..., options..., warmup keys...}.

    Warmup keys (any schedule): ``warmup_steps`` (int) or ``warmup_fraction`` (float), ``warmup``
    (the mode, "linear" (default) or "constant"; "none" for no warmup) and ``warmup_start_factor``.
    A Schedule passes through unchanged.
    """
    if isinstance(spec, schedules.Schedule):
        return spec
    name, options = split_spec(spec)
    warm: dict[str, Any] = {k: options.pop(k) for k in WARMUP_KEYS if k in options}
    base = SCHEDULES.build({"name": name, **options})
    mode = warm.pop("warmup", "linear" if warm else "none")
    if mode == "none":
        if any(warm.get(k) for k in ("warmup_steps", "warmup_fraction")):
            raise UserError(f"schedule {name!r}: warmup='none' contradicts {warm}")
        return base
    if "warmup_steps" not in warm and "warmup_fraction" not in warm:
        raise UserError(
            f"schedule {name!r}: warmup={mode!r} needs warmup_steps (an integer) or warmup_fraction "
            f"(of the run, e.g. 0.05)"
        )
    return with_warmup(
        base,
        warmup_steps=warm.get("warmup_steps"),
        warmup_fraction=warm.get("warmup_fraction"),
        mode=mode,
        start_factor=warm.get("warmup_start_factor"),
    )


def build_optimizer(
    model: nn.Module,
    spec: Spec,
    lr: float,
    weight_decay: float = 0.0,
    lr_scales: Mapping[str, float] | None = None,
    substitute: Mapping[str, nn.Parameter] | None = None,
) -> torch.optim.Optimizer:
    """Build the optimizer named by `spec` over `param_groups(model, weight_decay, lr_scales)`.

    `spec` is a name ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw") or a table
    {"name": ..., option: value}; see `OPTIMIZERS.entries()` for the options. Every param group
    gets ``lr = initial_lr = lr * lr_scale`` and keeps its "name", "lr_scale" and "param_names".
    `substitute` ({name: parameter}) builds the same groups over the parameters of a copy of
    `model` (e.g. the LR finder's), matched by name.
    """
    name, options = split_spec(spec)
    for key in ("lr", "weight_decay", "lr_scales"):
        if key in options:
            raise UserError(
                f"optimizer {name!r}: give {key!r} as its own setting (build_optimizer({key}=...)), "
                f"not as an option of the optimizer spec"
            )
    lr = check_float(lr, "lr (learning rate)", low=0.0, low_open=True)
    groups = param_groups(model, weight_decay, lr_scales)
    for group in groups:
        group["lr"] = lr * group["lr_scale"]
        if substitute is not None:  # the same groups over another copy's parameters (by name)
            group["params"] = [substitute[n] for n in group["param_names"]]
    optimizer = OPTIMIZERS.build(spec, groups, lr=lr)
    for group in optimizer.param_groups:
        group["initial_lr"] = lr * group["lr_scale"]
    return optimizer


__all__ = ["OPTIMIZERS", "SCHEDULES", "WARMUP_KEYS", "build_optimizer", "build_schedule"]
