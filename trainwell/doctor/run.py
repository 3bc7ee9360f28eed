"""`diagnose(recipe)`: the babysitting protocol on a recipe, as a list of findings.

    1. data             finite, constant features, centered/scaled, preprocessing fitted on train
    2. initial loss     ≈ log C with regularization off
    3. regularization   turning it on raises the initial loss
       eval statistics  eval-mode outputs do not depend on the rest of the batch
    4. overfit          20 examples, no regularization, Adam → 100 % training accuracy
    5. learning rate    LR range test's suggestion vs optim.lr
    6. short run        activations, dead ReLUs, gradient flow, update ratios, loss, train/val gap

Each check is in its own module with its rule and thresholds (`DoctorConfig`). Everything runs on
copies: the prepared model passed in is left untouched. The result keeps the plain records the
report plots (stats records, the LR sweep, the overfit curve).

Example:
    >>> result = diagnose(load_recipe("recipes/default.toml"), DoctorConfig().quick())
    >>> [f.message for f in result.findings if f.status != "pass"]
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from trainwell.config import Recipe, recipe_to_dict
from trainwell.data import DataBundle
from trainwell.doctor import data_checks as D
from trainwell.doctor import loss_checks as L
from trainwell.doctor.common import first, load_raw
from trainwell.doctor.config import DoctorConfig
from trainwell.doctor.lr_check import check_lr, run_lr_find
from trainwell.doctor.overfit import check_overfit, overfit_tiny
from trainwell.doctor.training_checks import analyse_run, end_accuracies, short_run
from trainwell.diagnostics.findings import Finding, exit_code, worst
from trainwell.optim.param_groups import classify_parameters


@dataclass
class DoctorResult:
    """Findings in checklist order, plus the plain records behind them (for the report)."""

    recipe: dict[str, Any]
    config: dict[str, Any]
    findings: list[Finding] = field(default_factory=list)
    stats: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    lr_find: dict[str, Any] | None = None
    overfit: dict[str, Any] | None = None

    @property
    def status(self) -> str:
        return worst(self.findings)

    @property
    def exit_code(self) -> int:
        return exit_code(self.findings)

    def by_check(self, check: str) -> list[Finding]:
        return [f for f in self.findings if f.check == check]

    def to_json(self) -> dict[str, Any]:
        return {"recipe": self.recipe, "config": self.config, "status": self.status,
                "findings": [f.to_json() for f in self.findings], "stats": self.stats, "metrics": self.metrics,
                "lr_find": self.lr_find, "overfit": self.overfit}


def _cap(data: DataBundle, n: int | None, seed: int) -> DataBundle:
    """At most n training examples (a seeded random subset) for the doctor's own runs."""
    if n is None or len(data.x_train) <= n:
        return data
    keep = torch.randperm(len(data.x_train), generator=torch.Generator().manual_seed(seed + 11))[:n].to(data.x_train.device)
    from dataclasses import replace

    return replace(data, x_train=data.x_train[keep], y_train=data.y_train[keep])


def diagnose(
    recipe: Recipe,
    config: DoctorConfig | None = None,
    *,
    prepared: Any = None,
    raw: DataBundle | None = None,
    progress: Callable[[str], None] | None = None,
) -> DoctorResult:
    """Run the checklist on `recipe` (see the module docstring).

    Args:
        recipe: the recipe to examine.
        config: budgets and thresholds (`DoctorConfig().quick()` for a fast run).
        prepared: a `trainwell.doctor.common.Prepared` to examine instead of `prepare(recipe)` — e.g.
            with a hand-built model, or a pipeline under test; its model is never modified.
        raw: the recipe's data before preprocessing (default: reloaded with `load_raw`).
        progress: called with the name of each stage as it starts.
    """
    from trainwell.doctor.common import Prepared, prepare

    cfg = config or DoctorConfig()
    say = progress or (lambda _: None)
    p = prepared if prepared is not None else prepare(recipe)
    raw = raw if raw is not None else load_raw(recipe)
    result = DoctorResult(recipe_to_dict(recipe), cfg.to_json())
    add = result.findings.extend

    say("data")
    splits = lambda d: {"train": d.x_train, "val": d.x_val, "test": d.x_test}  # noqa: E731
    add([D.check_finite(splits(raw), splits(p.data))])
    add([D.check_constant(raw.x_train, cfg)])
    add(D.check_centered_scaled(p.data.x_train, cfg, has_pipeline=len(p.pipeline) > 0))
    add([D.check_fit_on_train(p.pipeline, raw.x_train, raw.x_val, raw.x_test, cfg)])

    data = _cap(p.data, cfg.max_train, cfg.seed)
    model = p.model
    say("initial loss")
    x0, y0 = first(data.x_train, data.y_train, cfg.loss_batch)
    plain = L.initial_loss(model, x0, y0)
    add([L.check_initial_loss(plain, data.num_classes, cfg)])
    reg, used = L.regularized_loss(model, recipe, x0, y0, cfg, seed=cfg.seed)
    add([L.check_regularization(plain, reg, used, cfg)])
    add([L.check_eval_batch_independence(model, x0)])

    say("overfit a tiny subset")
    pick = torch.randperm(len(data.x_train), generator=torch.Generator().manual_seed(cfg.seed + 7))[: cfg.overfit_examples]
    pick = pick.to(data.x_train.device)
    fit = overfit_tiny(model, data.x_train[pick], data.y_train[pick], steps=cfg.overfit_steps, lr=cfg.overfit_lr,
                       check_every=cfg.overfit_check_every, seed=cfg.seed)
    result.overfit = {"examples": fit.examples, "steps": fit.steps, "reached": fit.reached,
                      "accuracy": fit.accuracy, "losses": fit.losses, "check_every": cfg.overfit_check_every}
    add([check_overfit(fit, cfg)])

    say("learning rate range test")
    sweep = run_lr_find(model, recipe, data.x_train, data.y_train, cfg)
    result.lr_find = sweep.to_json()
    add([check_lr(recipe.optim.lr, sweep, cfg)])

    say("short training run with statistics")
    state, records, metrics = short_run(Prepared(recipe, data, p.pipeline, model, p.device), cfg)
    result.stats, result.metrics = records, metrics
    accuracies = None if state.diverged else end_accuracies(state.model, data, cfg)
    weights = {name for name, _, decayed in classify_parameters(model) if decayed}
    input_std = float(data.x_train[: cfg.loss_batch].float().std(unbiased=False))
    add(analyse_run(records, metrics, input_std=input_std, weight_names=weights, accuracies=accuracies,
                    num_classes=data.num_classes, diverged=state.diverged, stop_reason=state.stop_reason, cfg=cfg))
    return result
