"""Activations and gradients through depth: collapsed, saturated, exploded, dead; gradient flow.

Two sources, one rule. The stats records of the short run (`StatsCallback`: first record = the
network at init, last = the end) hold every activation MODULE's output; a network that calls its
activations as functions has none, and is judged from the probes instead (`trainwell.doctor.probe`:
what each weight layer receives, at init and at the end). With s₀ = the std of the network's input:

    saturated   tanh/sigmoid with > saturated_warn (20 %, as `trainwell.diagnostics.init_stats`) of
                its outputs in the flat tails (|tanh| > 0.99; sigmoid < 0.01 or > 0.99)
    dead        ReLU family, ≥ dead_warn (30 %) of the units ≤ 0 on the whole batch (≥ 70 %: fail)
    collapsed   std < collapsed_rel (0.1)·s₀
    exploded    std > exploded_rel (10)·s₀       (checked in this order)

A verdict at init names the init (prescription: xavier for saturating activations, kaiming for the
ReLU family); one that only appears at the end ("when" = "end") is a symptom of the training —
usually a learning rate that is too high — and is reported without a prescription of its own.

Gradient flow: the gradient std at the output of the first weight layer over that at the last,
at init (first stats record; the probe when the records have no weight layer): below 1e-2 →
vanishing, above 1e2 → exploding (symptoms of the init or the activations).
"""
from __future__ import annotations

import math
from typing import Any

from trainwell.doctor.config import DoctorConfig
from trainwell.doctor.finding import Finding, Prescription, passed
from trainwell.doctor.prescribe import init_fix
from trainwell.doctor.probe import ProbeResult

CODES = {"collapsed": "activations_collapsed", "saturated": "activations_saturated", "exploded": "activations_exploded",
         "dead": "dead_units"}
WHY = {
    "collapsed": "the activations shrink towards 0 layer by layer, so the gradients on the weights (∝ activations) "
                 "vanish with them",
    "saturated": "most units sit in the flat tails of the nonlinearity, where the local gradient is ~0",
    "exploded": "the activations grow layer by layer",
    "dead": "these ReLUs output 0 for every example: they pass no gradient and never recover",
}


def verdict(kind: str | None, std: float, sat: float | None, dead: float | None, s0: float, cfg: DoctorConfig) -> str:
    if kind in ("tanh", "sigmoid") and sat is not None and sat > cfg.saturated_warn:
        return "saturated"
    if kind == "relu" and dead is not None and dead >= cfg.dead_warn:
        return "dead"
    if not std == std or std < cfg.collapsed_rel * s0:
        return "collapsed"
    if std > cfg.exploded_rel * s0:
        return "exploded"
    return "healthy"


def _act_layers(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [l for l in record.get("layers", []) if l.get("kind") in ("relu", "tanh", "sigmoid")]


def _rows_from_records(records: list[dict[str, Any]]) -> list[tuple[str, str, dict, dict]]:
    first, last = records[0], records[-1]
    at_end = {l["name"]: l for l in _act_layers(last)}
    return [(l["name"], l.get("type", ""), l, at_end.get(l["name"], l)) for l in _act_layers(first)]


def _rows_from_probes(init: ProbeResult, end: ProbeResult | None) -> list[tuple[str, str, dict, dict]]:
    """What each weight layer after the first receives, as an activation record."""
    def as_rec(v) -> dict[str, Any]:
        return {"name": v.name, "kind": v.kind, "std": v.in_std, "saturated_frac": v.saturated_frac,
                "dead_frac": v.dead_frac if v.kind == "relu" else None}

    ends = {v.name: v for v in end.layers} if end is not None else {}
    rows = []
    for v in init.layers[1:]:
        e = ends.get(v.name, v)
        rows.append((f"{v.name} (input)", v.type, as_rec(v), as_rec(e)))
    return rows


def check_activations(records: list[dict[str, Any]], init: ProbeResult | None, end: ProbeResult | None,
                      input_std: float, cfg: DoctorConfig, subject: Any, step: int | None = None) -> list[Finding]:
    """Per-layer verdicts at init and at the end (see the module docstring)."""
    train = [r for r in records if r.get("phase", "train") == "train"]
    if train and _act_layers(train[0]):
        rows, source = _rows_from_records(train), "activation modules"
        step = train[-1].get("step", step)
    elif init is not None:
        rows, source = _rows_from_probes(init, end), "inputs of the weight layers (functional activations)"
    else:
        return []
    out: list[Finding] = []
    for name, typ, a, b in rows:
        kind = a.get("kind")
        v0 = verdict(kind, a.get("std", math.nan), a.get("saturated_frac"), a.get("dead_frac"), input_std, cfg)
        v1 = verdict(b.get("kind", kind), b.get("std", math.nan), b.get("saturated_frac"), b.get("dead_frac"), input_std, cfg)
        if v0 == "healthy" and v1 == "healthy":
            continue
        v = v0 if v0 != "healthy" else v1
        when = "init" if v0 != "healthy" else "end"
        evidence = {"verdict": v, "when": when, "kind": kind, "std_init": a.get("std"), "std_end": b.get("std"),
                    "input_std": input_std, "saturated_frac_init": a.get("saturated_frac"),
                    "saturated_frac_end": b.get("saturated_frac"), "dead_frac_init": a.get("dead_frac"),
                    "dead_frac_end": b.get("dead_frac"), "collapsed_rel": cfg.collapsed_rel,
                    "exploded_rel": cfg.exploded_rel, "saturated_warn": cfg.saturated_warn, "dead_warn": cfg.dead_warn,
                    "source": source}
        numbers = f"std {a.get('std', math.nan):.3g} at init, {b.get('std', math.nan):.3g} at the end (input std {input_std:.3g})"
        if v == "saturated":
            numbers += f", {max(a.get('saturated_frac') or 0, b.get('saturated_frac') or 0):.0%} in the tails"
        if v == "dead":
            d = (a if when == "init" else b).get("dead_frac") or 0.0
            numbers += f", {d:.0%} of the units dead"
        severity = "warn"
        if v == "dead" and max(a.get("dead_frac") or 0, b.get("dead_frac") or 0) >= cfg.dead_fail:
            severity = "fail"
        if when == "init":
            fix = init_fix(subject, kind if kind in ("tanh", "sigmoid") else None)
            if v == "dead":
                fix = Prescription(fix.text + " (or leaky_relu), biases at 0 — not negative", fix.edits, fix.code,
                                   fix.direction)
            message = f"layer {name} ({typ}): {v} at init — {numbers}: {WHY[v]}"
        else:
            fix = None
            message = (f"layer {name} ({typ}): {v} by the end of the short run (healthy at init) — {numbers}: "
                       f"{WHY[v]}; a symptom of the training (most often a learning rate that is too high)")
        out.append(Finding(CODES[v], severity, message, evidence, name, fix, stage="activations"))
    if not out:
        out.append(passed("activations", f"{len(rows)} activation layers ({source}) neither collapsed, saturated, "
                          "exploded nor dead (init and end)", {"layers": len(rows), "source": source}))
    return out


def check_gradient_flow(records: list[dict[str, Any]], weight_names: list[str], init: ProbeResult | None,
                        cfg: DoctorConfig, subject: Any) -> list[Finding]:
    """First/last weight layer gradient std at init (see the module docstring)."""
    pairs: list[tuple[str, float]] = []
    train = [r for r in records if r.get("phase", "train") == "train"]
    if train:
        by_name = {l["name"]: l for l in train[0].get("layers", [])}
        pairs = [(n, by_name[n]["grad_std"]) for n in weight_names
                 if n in by_name and by_name[n].get("grad_std") is not None]
    if len(pairs) < 2 and init is not None:
        pairs = [(v.name, v.grad_std) for v in init.layers if v.grad_std is not None]
    if len(pairs) < 3:
        return []
    (first, g_first), (last, g_last) = pairs[0], pairs[-1]
    ratio = g_first / g_last if g_last > 0 else (math.inf if g_first > 0 else math.nan)
    lo, hi = cfg.grad_flow_band
    per_layer = ", ".join(f"{n} {g:.2g}" for n, g in pairs)
    evidence = {"grad_std_first": g_first, "grad_std_last": g_last, "ratio": ratio, "band": [lo, hi], "first": first,
                "last": last, "per_layer": dict(pairs)}
    if ratio == ratio and lo <= ratio <= hi:
        return [passed("gradient_flow", f"gradient std first/last weight layer {ratio:.3g} within [{lo:g}, {hi:g}]",
                       evidence)]
    kind = "vanishing" if not ratio == ratio or ratio < lo else "exploding"
    what = ("the early layers barely learn" if kind == "vanishing" else "the early layers get huge updates")
    return [Finding(f"{kind}_gradients", "warn",
                    f"{kind} gradients through depth at init: the gradient std at {first} is {ratio:.3g}× that at "
                    f"{last} (band [{lo:g}, {hi:g}]; per layer: {per_layer}) — {what}", evidence, first,
                    init_fix(subject), stage="activations")]


__all__ = ["CODES", "check_activations", "check_gradient_flow", "verdict"]
