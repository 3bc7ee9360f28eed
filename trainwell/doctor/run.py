"""`diagnose`: the babysitting protocol on a recipe or a Python setup → a `Diagnosis`.

    1. data          NaN/Inf, labels (range, 1-based), normalization, feature scales, constant features,
                     preprocessing fitted on train, duplicates across splits
    2. model at init one batch through a copy (`probe`): symmetric units, frozen parameters, no
                     nonlinearity, bottleneck, output layer vs loss, initial loss ≈ log C, regularization
                     raises the loss, eval mode independent of the batch, the schedule over the run
    3. overfit       20 examples, regularization off, Adam → 100 % training accuracy
    4. learning rate LR range test with the setup's optimizer
    5. short run     the setup's own training for `short_steps` steps through the assembly, with
                     per-layer statistics: activations, dead units, gradient flow, loss, batch order,
                     clipping, accuracy vs the majority rate, class imbalance, BatchNorm train/eval
    6. comparisons   only when the training data is not fitted: regularization off; memorization of
                     200 examples (capacity)
    7. verdicts      one learning-rate verdict (a verdict of the LR range test alone is tried first: the
                     short run at the prescribed LR must fit better); labels that cannot be learned; the causal order
                     (`trainwell.doctor.causes.arrange`): causes first, their symptoms under them

Every check is in its own module with its rule and thresholds (`DoctorConfig`). Everything runs on
copies: the model given is never modified. Problems that make training meaningless (NaN inputs,
labels outside the outputs) stop after step 2 instead of crashing.

Example:
    >>> d = diagnose(load_recipe("default"), DoctorConfig().quick())
    >>> d.top.code if d.top else "healthy"
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from trainwell.config import Recipe, recipe_to_dict
from trainwell.doctor import activation_checks as A
from trainwell.doctor import data_checks as D
from trainwell.doctor import loss_checks as L
from trainwell.doctor import model_checks as M
from trainwell.doctor import run_checks as R
from trainwell.doctor.causes import arrange, top
from trainwell.doctor.compare import check_capacity, check_over_regularization, fit_level
from trainwell.doctor.config import DoctorConfig
from trainwell.doctor.finding import Finding, Prescription, exit_code, worst
from trainwell.doctor.lr_check import confirm_lr, judge_lr, loss_trend, run_lr_find, update_ratios
from trainwell.doctor.overfit import check_overfit, overfit_tiny
from trainwell.doctor.probe import probe
from trainwell.doctor.subject import Subject, evaluate_accuracy, recipe_subject
from trainwell.train.callbacks import Callback


@dataclass
class Diagnosis:
    """Findings in causal order (see `trainwell.doctor.causes`), plus the plain records behind them."""

    subject: dict[str, Any]
    config: dict[str, Any]
    findings: list[Finding] = field(default_factory=list)
    stats: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    lr_find: dict[str, Any] | None = None
    overfit: dict[str, Any] | None = None
    probes: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.subject.get("kind", "recipe")

    @property
    def recipe(self) -> dict[str, Any]:
        return self.subject.get("recipe", {})

    @property
    def top(self) -> Finding | None:
        """The diagnosis: the first problem that nothing else explains (None: nothing found)."""
        return top(self.findings)

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.problem]

    @property
    def causes(self) -> list[Finding]:
        """The problems that nothing explains, in causal order."""
        return [f for f in self.findings if f.problem and f.explained_by is None]

    @property
    def status(self) -> str:
        return worst(self.findings)

    @property
    def exit_code(self) -> int:
        return exit_code(self.findings)

    def by_check(self, code: str) -> list[Finding]:
        return [f for f in self.findings if f.code == code]

    def to_json(self) -> dict[str, Any]:
        t = self.top
        return {"subject": self.subject, "recipe": self.recipe, "config": self.config, "status": self.status,
                "top": t.to_json() if t is not None else None, "findings": [f.to_json() for f in self.findings],
                "scores": self.scores, "stats": self.stats, "metrics": self.metrics, "lr_find": self.lr_find,
                "overfit": self.overfit, "probes": self.probes, "timings": self.timings}

    def table(self, show_passes: bool = True):
        """A rich Table: severity, code, where, finding and prescription (symptoms indented)."""
        from trainwell.report.doctor_report import rich_table

        return rich_table(self.to_json(), show_passes=show_passes)

    def html(self) -> str:
        """An HTML section (no page around it): the diagnosis and the checklist."""
        from trainwell.report.doctor_report import diagnosis_html

        return diagnosis_html(self.to_json())

    def _repr_html_(self) -> str:  # notebooks
        return self.html()

    def __rich__(self):
        return self.table()


class _BatchLabels(Callback):
    """Keeps the labels of the first `n` training batches (to judge their order)."""

    def __init__(self, n: int):
        self.n, self.batches = n, []

    def on_batch_start(self, state: Any) -> None:
        if len(self.batches) < self.n and state.batch is not None and isinstance(state.batch[1], torch.Tensor):
            self.batches.append(state.batch[1].detach())


class _Clock:
    def __init__(self, say: Callable[[str], None]):
        self.say, self.timings, self._stage, self._t = say, {}, None, (0.0, 0.0)

    def __call__(self, stage: str | None) -> None:
        now = (time.process_time(), time.perf_counter())
        if self._stage is not None:
            self.timings[self._stage] = {"cpu_s": now[0] - self._t[0], "wall_s": now[1] - self._t[1]}
        self._stage, self._t = stage, now
        if stage is not None:
            self.say(stage)


def diagnose(recipe: Recipe | None, config: DoctorConfig | None = None, *, subject: Subject | None = None,
             progress: Callable[[str], None] | None = None) -> Diagnosis:
    """Run the protocol on `recipe` (or on a prepared `subject`, e.g. from `python_subject`)."""
    cfg = config or DoctorConfig(seed=recipe.seed if recipe is not None else 0)
    clock = _Clock(progress or (lambda _: None))
    clock("data")
    s = subject if subject is not None else recipe_subject(recipe, cfg)
    d = Diagnosis(describe(s), cfg.to_json())
    try:
        findings = _examine(s, cfg, d, clock)
    finally:
        clock(None)
    d.findings = arrange(findings)
    d.timings = clock.timings
    return d


def describe(s: Subject) -> dict[str, Any]:
    return {"kind": s.kind, "name": s.name, "recipe": recipe_to_dict(s.recipe) if s.kind == "recipe" else {},
            "optimizer": s.optimizer_name, "lr": s.lr, "adaptive": s.adaptive, "batch_size": s.batch_size,
            "num_classes": s.num_classes, "train_examples": len(s.x_train), "notes": list(s.notes)}


def _examine(s: Subject, cfg: DoctorConfig, d: Diagnosis, clock: _Clock) -> list[Finding]:
    out: list[Finding] = [f for f in s.fatal]
    if any(f.severity == "fail" for f in s.fatal):
        return out
    x, y = s.x_train, s.y_train
    out.append(D.check_finite({"train": x, "val": s.x_val}))
    if out[-1].severity == "fail":
        return out
    out += _data(s, cfg)

    clock("model at init")
    xb, yb = x[: cfg.loss_batch], y[: cfg.loss_batch]
    plain = s.plain_loss_fn()
    init = probe(s.model, xb, yb, plain, symmetric_rtol=cfg.symmetric_rtol, prob_rtol=cfg.prob_rtol,
                 zero_frac=cfg.nonneg_zero_frac, seed=cfg.seed)
    d.probes["init"] = init.to_json()
    out.append(M.check_symmetric(init, s))
    out.append(M.check_frozen(s.model, s.optimizer, init))
    out.append(M.check_linear(s.model, xb, len(init.layers), cfg))
    bottleneck = M.check_bottleneck(init, s.num_classes, s) if s.classification else None
    output = M.check_output(init, s.loss_fn(), init.out, yb, cfg, s) if s.classification else []
    out += output
    ce_like = s.classification and (s.loss is None or any(
        f.evidence.get("loss") is not None and abs(f.evidence["loss"] - f.evidence.get("cross_entropy", math.inf))
        <= 1e-4 * (1 + abs(f.evidence["loss"])) for f in output))
    if ce_like and init.out is not None:
        loss0 = float(F.cross_entropy(init.out.float(), yb))
        out.append(L.check_initial_loss(loss0, s.num_classes, cfg))
        reg, used = L.regularized_loss(s, xb, yb, cfg, seed=cfg.seed)
        out.append(L.check_regularization(loss0, reg, used, cfg))
    out.append(L.check_eval_batch_independence(s.model, xb))
    out.append(_schedule(s, cfg))

    clock("overfit a tiny subset")
    gen = torch.Generator().manual_seed(cfg.seed + 7)
    pick = torch.randperm(len(x), generator=gen)[: cfg.overfit_examples].to(x.device)
    fit = overfit_tiny(s.model, x[pick], y[pick], steps=cfg.overfit_steps, lr=cfg.overfit_lr,
                       check_every=cfg.overfit_check_every, seed=cfg.seed, loss_fn=plain)
    d.overfit = {"examples": fit.examples, "steps": fit.steps, "reached": fit.reached, "accuracy": fit.accuracy,
                 "losses": fit.losses, "check_every": cfg.overfit_check_every}
    if s.classification:
        out.append(check_overfit(fit, cfg))

    clock("learning rate range test")
    sweep = run_lr_find(s, cfg)
    d.lr_find = sweep.to_json()

    clock("short training run with statistics")
    from trainwell.diagnostics.callback import StatsCallback

    stats = StatsCallback(every=cfg.stats_every, bins=cfg.bins)
    labels = _BatchLabels(cfg.order_batches)
    state = s.run(cfg.short_steps, cfg, callbacks=[stats, labels]).fit()
    records = [r for r in state.records.get("stats", []) if r.get("phase", "train") == "train"]
    metrics = [m for m in state.records.get("metrics", []) if m.get("split") == "train"]
    d.stats, d.metrics = records, metrics
    trend = loss_trend(metrics, init.loss)
    out += R.check_loss(trend, state.diverged, state.stop_reason, cfg)
    if s.classification:
        out.append(D.check_batch_order([b.cpu() for b in labels.batches], y, cfg, s.kind))
    key = "optim.grad_clip" if s.recipe.optim.grad_clip is not None else "train.clip_grad_norm"
    out.append(R.check_clipping(metrics, s.recipe.clip_grad_norm, s.adaptive, key, cfg))
    end = None
    if not state.diverged:
        end = probe(state.model, xb, yb, plain, symmetric_rtol=cfg.symmetric_rtol, prob_rtol=cfg.prob_rtol,
                    zero_frac=cfg.nonneg_zero_frac, seed=cfg.seed)
        d.probes["end"] = end.to_json()
    input_std = float(xb.float().std())
    out += A.check_activations(records, init, end, input_std, cfg, s)
    out += A.check_gradient_flow(records, [v.name for v in init.layers], init, cfg, s)
    from trainwell.optim.param_groups import classify_parameters

    decayed = {n for n, _, dec in classify_parameters(s.model) if dec}
    ratios = update_ratios(records, decayed)
    out.append(_update_ratio_note(ratios, s, cfg))

    at_chance = False
    scores: dict[str, Any] = {}
    if s.classification and not state.diverged:
        scores = _scores(s, state.model, cfg)
        gen_findings = R.check_generalization(scores, cfg)
        at_chance = any(f.code == "at_chance" and f.problem for f in gen_findings)
        out += gen_findings
        counts = torch.bincount(_all_labels(s).cpu().long(), minlength=s.num_classes).tolist()
        weighted = s.recipe.train.class_weights is not None and s.loss is None
        out.append(R.check_imbalance(counts, scores, at_chance, cfg, weighted))
        scores["mode_gap"] = _mode_gap(s, state.model, cfg)
    d.scores = scores
    out.append(M.check_batchnorm_batch(s.model, s.batch_size, cfg, scores.get("mode_gap")))

    capacity = None
    if scores:
        level = fit_level(scores["train_accuracy"], scores["majority_rate"])
        if level < cfg.underfit_acc:
            clock("comparison runs (under-fitting)")
            out.append(check_over_regularization(s, scores["train_accuracy"], scores["majority_rate"], cfg))
            capacity = check_capacity(s, cfg)
            out.append(capacity)
        if bottleneck is not None:
            if bottleneck.problem and level >= cfg.underfit_acc:
                bottleneck.severity = "info"
            out.append(bottleneck)
        if at_chance and fit.reached and (capacity is None or not capacity.problem):
            out.append(_labels_unlearnable(scores, fit, trend))
    elif bottleneck is not None:
        out.append(bottleneck)

    verdict = judge_lr(s, sweep, trend, state.diverged, state.stop_reason, ratios, cfg)
    if verdict.code in ("lr_too_high", "lr_too_low") and not verdict.evidence.get("seen_in_run") and scores:
        clock("learning rate: trying the prescribed LR")
        verdict = confirm_lr(s, verdict, {"train_accuracy": scores["train_accuracy"],
                                          "loss_last": trend.get("loss_last", math.nan)}, cfg)
    out.append(verdict)
    return _symptoms_of_a_good_run(out)


TROUBLE = {"diverged", "loss_not_decreasing", "loss_unstable", "at_chance", "overfit_tiny", "lr_too_high",
           "lr_too_low", "underfitting_capacity", "over_regularization"}


def _symptoms_of_a_good_run(findings: list[Finding]) -> list[Finding]:
    """Units that died (or blew up) during a run that otherwise trains well are a fact, not a fault:
    such "end"-only findings become info when no training trouble was found."""
    if any(f.code in TROUBLE and f.problem for f in findings):
        return findings
    for f in findings:
        if f.problem and f.evidence.get("when") == "end":
            f.severity = "info"
            f.message += " — the run still learns well, so this costs little (lower the LR or use leaky_relu to keep them)"
    return findings


def _data(s: Subject, cfg: DoctorConfig) -> list[Finding]:
    x = s.x_train
    if not torch.is_floating_point(x):  # token ids, class indices: not features to normalize
        return [D.check_duplicates(x, {"validation": s.x_val}, cfg)]
    out = [D.check_normalization(x, cfg, s.pipeline is not None and len(s.pipeline) > 0),
           D.check_feature_scale(x, cfg)]
    raw_x = s.raw.x_train if s.raw is not None else x
    out.append(D.check_constant(raw_x, cfg))
    if s.raw is not None and s.pipeline is not None:
        out.append(D.check_fit_on_train(s.pipeline, s.raw.x_train, s.raw.x_val, s.raw.x_test, cfg))
    train = s.raw.x_train if s.raw is not None else x
    others = ({"validation": s.raw.x_val, "test": s.raw.x_test} if s.raw is not None
              else {"validation": s.x_val})
    out.append(D.check_duplicates(train, others, cfg))
    return out


def _all_labels(s: Subject) -> torch.Tensor:
    return s.raw.y_train if s.raw is not None else s.y_train


def _schedule(s: Subject, cfg: DoctorConfig) -> Finding:
    from trainwell.assemble import total_steps_for

    n = len(s.raw.x_train) if s.raw is not None else len(s.x_train)
    per_epoch = max(n // max(s.batch_size or 1, 1), 1)
    total = total_steps_for(s.recipe, per_epoch)
    return R.check_schedule(s.recipe.schedule, total, cfg, s.kind)


def _update_ratio_note(ratios: dict[str, float], s: Subject, cfg: DoctorConfig) -> Finding:
    vals = sorted(ratios.values())
    evidence = {"median_update_ratio": ratios, "band": list(cfg.update_band), "adaptive": s.adaptive}
    if not vals:
        return Finding("update_ratio", "pass", "no update ratios recorded", evidence)
    if s.adaptive:
        return Finding("update_ratio", "pass",
                       f"update/weight ratios {vals[0]:.2g} … {vals[-1]:.2g}: with {s.optimizer_name} each weight moves "
                       "≈ lr per step whatever its gradient, so the ratio measures the LR against the weights' scale "
                       "and is not judged against 1e-3 (the LR range test is)", evidence)
    return Finding("update_ratio", "pass", f"median update/weight ratios {vals[0]:.2g} … {vals[-1]:.2g} (rule of "
                   "thumb ≈ 1e-3; judged in the learning-rate verdict)", evidence)


def _scores(s: Subject, model: torch.nn.Module, cfg: DoctorConfig) -> dict[str, Any]:
    """Accuracies and balanced accuracy from one eval-mode pass over each sample (train, validation)."""
    from trainwell.train.tasks import majority_rate

    xt, yt = s.x_train[: cfg.max_eval], s.y_train[: cfg.max_eval]
    pred_t = _predict(model, xt)
    out: dict[str, Any] = {"train_accuracy": _accuracy(pred_t, yt), "n_train": len(xt)}
    if s.x_val is not None and len(s.x_val):
        xv, yv = s.x_val[: cfg.max_eval], s.y_val[: cfg.max_eval]
        pred_v = _predict(model, xv)
        out["val_accuracy"] = _accuracy(pred_v, yv)
        out["n_val"] = len(xv)
        out["majority_rate"] = majority_rate(yv, s.num_classes)
        out["balanced_accuracy"] = R.balanced_accuracy(pred_v, yv, s.num_classes)
    else:
        out["val_accuracy"], out["n_val"] = math.nan, 0
        out["majority_rate"] = majority_rate(yt, s.num_classes)
        out["balanced_accuracy"] = R.balanced_accuracy(pred_t, yt, s.num_classes)
    return out


def _predict(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Predicted classes in eval mode (`trainwell.train.evaluate.predict_logits`)."""
    from trainwell.train.evaluate import predict_logits

    return predict_logits(model, x, 512).argmax(1)


def _accuracy(pred: torch.Tensor, y: torch.Tensor) -> float:
    return float((pred == y).sum()) / max(len(y), 1)


def _mode_gap(s: Subject, model: torch.nn.Module, cfg: DoctorConfig) -> float | None:
    """Accuracy in train mode (BatchNorm on batches of the run's size) minus eval mode, same examples."""
    from trainwell.nn.kinds import batchnorms

    if not batchnorms(model) or not s.batch_size or s.batch_size >= cfg.bn_min_batch:
        return None
    n = min(256, len(s.x_train))
    x, y = s.x_train[:n], s.y_train[:n]
    train_mode = evaluate_accuracy(model, x, y, train_mode=True, batch=max(s.batch_size, 2))
    return abs(train_mode - evaluate_accuracy(model, x, y))


def _labels_unlearnable(scores: dict[str, Any], fit: Any, trend: dict[str, float]) -> Finding:
    return Finding("labels_unlearnable", "fail",
                   f"the model can memorize ({fit.examples} examples to 100 % in {fit.steps} steps) but learns "
                   f"nothing that carries over: validation accuracy {scores.get('val_accuracy', math.nan):.1%} is at "
                   f"the majority rate {scores['majority_rate']:.1%} — the labels do not belong to their inputs "
                   "(shuffled or misaligned after a sort, a merge or a split)",
                   {**{k: scores.get(k) for k in ("train_accuracy", "val_accuracy", "majority_rate")},
                    "overfit_steps": fit.steps, **trend}, None,
                   Prescription("check that each label belongs to its input: shuffle x and y with the SAME "
                                "permutation, and look at a few examples with their labels",
                                code="perm = torch.randperm(len(x)); x, y = x[perm], y[perm]"),
                   stage="verdict")


__all__ = ["Diagnosis", "describe", "diagnose"]
