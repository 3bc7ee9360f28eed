"""The short training run with statistics (babysitting step 6) and its analysis.

`short_run` trains a COPY of the prepared model with the recipe's own settings (optimizer,
schedule, regularization, augmentation) for `short_steps` steps through `make_trainer`, with a
`StatsCallback` sampling every `stats_every` steps (records stay in memory, no run directory).
`analyse_run` turns the records into findings — a pure function of plain records:

    activations   per activation layer (ReLU/tanh/sigmoid families), at init (first record)
                  and at the end (last record), with s₀ = std of the network's input batch:
                    saturated   tanh/sigmoid with > saturated_warn (50 %) outputs in the tails
                    collapsed   std < collapsed_rel (0.1)·s₀
                    exploded    std > exploded_rel (10)·s₀
                  → warn, the layer named, prescriptions from the lectures
    dead_relu     per ReLU-family layer, dead fraction at the end (units ≤ 0 on the whole
                  batch): ≥ dead_warn (30 %) → warn, ≥ dead_fail (70 %) → fail
    gradient_flow ratio of the activation-gradient std of the first vs the last activation
                  layer at init: < 1e-2 → vanishing, > 1e2 → exploding (warn)
    update_ratio  median over sampled steps of ‖Δw‖/‖w‖ per weight (ndim ≥ 2), rule ≈ 1e-3:
                  outside [1e-4, 1e-2] → warn (below: LR too low, above: too high)
    loss_decrease training loss of the last log window vs the first: must drop ≥ 5 %;
                  a non-finite loss (divergence) → fail
    train_val_gap train accuracy − val accuracy (eval mode, end of run) > 15 points → warn
    learning_signal  val accuracy ≤ 1/C + 3·√((1/C)(1 − 1/C)/n_val) → fail (at chance)
"""
from __future__ import annotations

import copy
import math
from statistics import median
from typing import Any

import torch

from trainwell.diagnostics.callback import StatsCallback
from trainwell.doctor.config import DoctorConfig
from trainwell.diagnostics.findings import Finding
from trainwell.train.evaluate import evaluate

PRESCRIBE = {
    "collapsed": ("activations shrink towards 0, so the gradients on the weights vanish — use xavier init "
                  "for tanh/sigmoid or kaiming for ReLU (std ∝ 1/√fan_in, not a fixed small std), "
                  "or add BatchNorm (model.norm = \"batch\")"),
    "saturated": ("most units sit in the flat tails of the nonlinearity, where the local gradient is ~0 — "
                  "the init scale is too large (use xavier), the LR may be too high; prefer ReLU-family "
                  "activations in hidden layers, or add BatchNorm before the nonlinearity"),
    "exploded": ("activations grow layer by layer — the init scale is too large (xavier for tanh, kaiming "
                 "for ReLU), or add BatchNorm"),
}


def short_run(prepared: Any, cfg: DoctorConfig) -> tuple[Any, list[dict[str, Any]], list[dict[str, Any]]]:
    """Train a copy for cfg.short_steps; returns (state, stats records, train metric records)."""
    from trainwell.assemble import RunData, build_run

    r = prepared.recipe.model_copy(deep=True)
    r.train.epochs = None  # first: a recipe may give epochs, and steps + epochs is invalid
    r.train.steps = cfg.short_steps
    r.train.log_every = cfg.log_every
    r.train.eval_every = cfg.short_steps
    r.train.checkpoint = False
    stats = StatsCallback(every=cfg.stats_every, bins=cfg.bins)
    run = build_run(r, copy.deepcopy(prepared.model), RunData.of_bundle(prepared.data, prepared.pipeline),
                    device=prepared.device, callbacks=[stats])
    state = run.fit()
    records = state.records.get("stats", [])
    metrics = [m for m in state.records.get("metrics", []) if m.get("split") == "train"]
    return state, records, metrics


def end_accuracies(model: torch.nn.Module, data: Any, cfg: DoctorConfig) -> dict[str, float]:
    n = cfg.eval_examples
    train = evaluate(model, data.x_train[:n], data.y_train[:n])
    val = evaluate(model, data.x_val[:n], data.y_val[:n]) if len(data.x_val) else {"accuracy": math.nan}
    return {"train_accuracy": train["accuracy"], "val_accuracy": val["accuracy"],
            "n_val": min(n, len(data.x_val))}


def _act_layers(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [l for l in record["layers"] if l.get("kind") in ("relu", "tanh", "sigmoid")]


def _verdict(layer: dict[str, Any], s0: float, cfg: DoctorConfig) -> str:
    sat = layer.get("saturated_frac")
    std = layer.get("std", math.nan)
    if layer.get("kind") in ("tanh", "sigmoid") and sat is not None and sat > cfg.saturated_warn:
        return "saturated"
    if not std == std or std < cfg.collapsed_rel * s0:
        return "collapsed"
    if std > cfg.exploded_rel * s0:
        return "exploded"
    return "healthy"


def check_activations(records: list[dict[str, Any]], input_std: float, cfg: DoctorConfig) -> list[Finding]:
    if not records:
        return []
    out: list[Finding] = []
    first, last = records[0], records[-1]
    at_end = {l["name"]: l for l in _act_layers(last)}
    bad = 0
    for layer in _act_layers(first):
        end = at_end.get(layer["name"], layer)
        v0, v1 = _verdict(layer, input_std, cfg), _verdict(end, input_std, cfg)
        if v0 == "healthy" and v1 == "healthy":
            continue
        bad += 1
        verdict = v0 if v0 != "healthy" else v1
        when = "at init" if v0 != "healthy" and v1 == v0 else ("at init and at the end" if v0 != "healthy" and v1 != "healthy" else "at the end")
        if v0 != "healthy" and v1 == "healthy":
            when = f"at init (healthy by step {last['step']})"
        sat = layer.get("saturated_frac")
        extra = f", {sat:.0%} saturated" if sat is not None else ""
        out.append(Finding(
            "activations", "warn", layer["name"],
            f"layer {layer['name']} ({layer.get('type', '')}): {verdict} {when} — std {layer['std']:.3g} at init, "
            f"{end['std']:.3g} at step {last['step']} (input std {input_std:.3g}){extra}: {PRESCRIBE[verdict]}",
            {"verdict": verdict, "std_init": layer["std"], "std_end": end["std"], "input_std": input_std,
             "saturated_frac_init": sat, "saturated_frac_end": end.get("saturated_frac"),
             "collapsed_rel": cfg.collapsed_rel, "exploded_rel": cfg.exploded_rel, "saturated_warn": cfg.saturated_warn}))
    if not bad:
        n = len(_act_layers(first))
        out.append(Finding("activations", "pass", None,
                           f"{n} activation layers neither collapsed, saturated nor exploded (init and end)", {"layers": n}))
    return out


def check_dead(records: list[dict[str, Any]], cfg: DoctorConfig) -> list[Finding]:
    if not records:
        return []
    last = records[-1]
    relu = [l for l in _act_layers(last) if l.get("dead_frac") is not None]
    if not relu:
        return []
    out = []
    for layer in relu:
        d = layer["dead_frac"]
        if d >= cfg.dead_warn:
            status = "fail" if d >= cfg.dead_fail else "warn"
            out.append(Finding(
                "dead_relu", status, layer["name"],
                f"layer {layer['name']}: {d:.0%} dead ReLUs at step {last['step']} (never > 0 on a whole batch) — "
                "lower the LR, or use leaky_relu/ELU, or init biases to 0.01; check the init (kaiming for ReLU)",
                {"dead_frac": d, "step": last["step"], "warn": cfg.dead_warn, "fail": cfg.dead_fail}))
    if not out:
        worst = max(relu, key=lambda l: l["dead_frac"])
        out.append(Finding("dead_relu", "pass", None,
                           f"dead ReLUs below {cfg.dead_warn:.0%} in every layer (most: {worst['name']} "
                           f"{worst['dead_frac']:.0%})", {"max_dead_frac": worst["dead_frac"]}))
    return out


def check_gradient_flow(records: list[dict[str, Any]], cfg: DoctorConfig) -> list[Finding]:
    if not records:
        return []
    acts = [l for l in _act_layers(records[0]) if l.get("grad_std") is not None]
    if len(acts) < 2:
        return []
    first, last = acts[0], acts[-1]
    g_first, g_last = first["grad_std"], last["grad_std"]
    ratio = g_first / g_last if g_last > 0 else (math.inf if g_first > 0 else math.nan)
    lo, hi = cfg.grad_flow_band
    numbers = {"grad_std_first": g_first, "grad_std_last": g_last, "ratio": ratio, "band": [lo, hi],
               "first": first["name"], "last": last["name"]}
    per_layer = ", ".join(f"{l['name']} {l['grad_std']:.2g}" for l in acts)
    if ratio == ratio and lo <= ratio <= hi:
        return [Finding("gradient_flow", "pass", None,
                        f"gradient std first/last activation layer {ratio:.3g} within [{lo:g}, {hi:g}]", numbers)]
    kind = "vanishing" if not ratio == ratio or ratio < lo else "exploding"
    fix = ("the early layers barely learn — use xavier (tanh) / kaiming (ReLU) init, ReLU-family activations, "
           "or BatchNorm" if kind == "vanishing" else
           "the early layers get huge updates — reduce the init scale, add BatchNorm, or clip gradients (optim.grad_clip)")
    return [Finding("gradient_flow", "warn", first["name"],
                    f"{kind} gradients through depth at init: grad std at {first['name']} is {ratio:.3g}× that at "
                    f"{last['name']} (band [{lo:g}, {hi:g}]; per layer: {per_layer}) — {fix}", numbers)]


def check_update_ratio(records: list[dict[str, Any]], weight_names: set[str], cfg: DoctorConfig) -> list[Finding]:
    if not records:
        return []
    per: dict[str, list[float]] = {}
    for r in records:
        for p in r["params"]:
            v = p.get("update_ratio")
            if p["name"] in weight_names and v is not None and math.isfinite(v):
                per.setdefault(p["name"], []).append(v)
    if not per:
        return []
    med = {n: median(v) for n, v in per.items()}
    lo, hi = cfg.update_band
    low = {n: v for n, v in med.items() if v < lo}
    high = {n: v for n, v in med.items() if v > hi}
    numbers = {"median_update_ratio": med, "band": [lo, hi]}
    out = []
    for side, bound, found, pick, verdict in (("above", hi, high, max, "too high — lower optim.lr"),
                                              ("below", lo, low, min, "too low — raise optim.lr")):
        if found:
            worst = pick(found, key=found.get)
            out.append(Finding("update_ratio", "warn", worst,
                               f"update/weight ratio ‖Δw‖/‖w‖ {side} {bound:g} in {len(found)} of {len(med)} weights "
                               f"(worst {worst}: {found[worst]:.3g}; rule of thumb ≈ 1e-3): the learning rate is "
                               f"{verdict}", numbers))
    if not out:
        vals = sorted(med.values())
        out.append(Finding("update_ratio", "pass", None,
                           f"update/weight ratios within [{lo:g}, {hi:g}] (medians {vals[0]:.2g} … {vals[-1]:.2g})",
                           numbers))
    return out


def check_loss_decrease(metrics: list[dict[str, Any]], diverged: bool, stop_reason: str, cfg: DoctorConfig) -> list[Finding]:
    if diverged:
        return [Finding("loss_decrease", "fail", None, f"the short run diverged: {stop_reason}", {"diverged": True})]
    if len(metrics) < 2:
        return []
    l0, l1 = metrics[0]["loss"], metrics[-1]["loss"]
    drop = (l0 - l1) / l0 if l0 else 0.0
    numbers = {"loss_first": l0, "loss_last": l1, "relative_drop": drop, "min_drop": cfg.loss_min_drop,
               "steps": metrics[-1]["step"]}
    if not math.isfinite(l1):
        return [Finding("loss_decrease", "fail", None, f"the training loss became {l1}: lower optim.lr", numbers)]
    if drop >= cfg.loss_min_drop:
        return [Finding("loss_decrease", "pass", None,
                        f"training loss fell {l0:.3f} → {l1:.3f} ({drop:.0%}) in {metrics[-1]['step']} steps", numbers)]
    return [Finding("loss_decrease", "warn", None,
                    f"training loss not decreasing: {l0:.3f} → {l1:.3f} ({drop:+.1%} drop < {cfg.loss_min_drop:.0%}) "
                    f"in {metrics[-1]['step']} steps — a barely changing loss means the LR is too low; also check "
                    "the overfit and learning-rate findings", numbers)]


def check_generalization(acc: dict[str, float], num_classes: int, cfg: DoctorConfig) -> list[Finding]:
    tr, va, n = acc["train_accuracy"], acc["val_accuracy"], acc["n_val"]
    if not va == va or n == 0:
        return []
    p = 1.0 / num_classes
    chance_hi = p + cfg.chance_sigmas * math.sqrt(p * (1 - p) / n)
    gap = tr - va
    numbers = {"train_accuracy": tr, "val_accuracy": va, "gap": gap, "gap_warn": cfg.gap_warn,
               "chance": p, "chance_upper": chance_hi, "n_val": n}
    out = []
    if va <= chance_hi:
        out.append(Finding("learning_signal", "fail", None,
                           f"validation accuracy {va:.1%} is at chance (≤ {chance_hi:.1%} = 1/{num_classes} + "
                           f"{cfg.chance_sigmas:g}σ over {n} examples) after the short run (train {tr:.1%}): nothing "
                           "that generalizes was learned — check that labels belong to their inputs (shuffled or "
                           "misaligned labels), and the learning-rate findings", numbers))
    else:
        out.append(Finding("learning_signal", "pass", None,
                           f"validation accuracy {va:.1%} above chance ({chance_hi:.1%})", numbers))
    if gap > cfg.gap_warn:
        out.append(Finding("train_val_gap", "warn", None,
                           f"train accuracy {tr:.1%} vs validation {va:.1%}: a gap of {gap:.0%} > {cfg.gap_warn:.0%} "
                           "means overfitting — add regularization (weight decay, dropout, augmentation) or more data",
                           numbers))
    else:
        out.append(Finding("train_val_gap", "pass", None,
                           f"train {tr:.1%} vs validation {va:.1%} (gap {gap:+.0%} ≤ {cfg.gap_warn:.0%})", numbers))
    return out


def analyse_run(records: list[dict[str, Any]], metrics: list[dict[str, Any]], *, input_std: float,
                weight_names: set[str], accuracies: dict[str, float] | None, num_classes: int,
                diverged: bool = False, stop_reason: str = "", cfg: DoctorConfig | None = None) -> list[Finding]:
    """All step-6 findings from plain records (see the module docstring)."""
    cfg = cfg or DoctorConfig()
    train = [r for r in records if r.get("phase", "train") == "train"]
    out = check_activations(train, input_std, cfg)
    out += check_dead(train, cfg)
    out += check_gradient_flow(train, cfg)
    out += check_update_ratio(train, weight_names, cfg)
    out += check_loss_decrease(metrics, diverged, stop_reason, cfg)
    if accuracies is not None and not diverged:
        out += check_generalization(accuracies, num_classes, cfg)
    return out

