"""Gradient checking (CS231n notes, "Gradient checks"): compare the analytic gradient with a centered
finite difference, by the relative error |a − n| / max(|a|, |n|). Reading it: < 1e-7 good; up to
1e-2 suspicious — fine only near kinks; > 1e-2 the gradient is wrong. Use float64 (float32
rounding alone gives errors of 1e-4…1e-2), and beware of kinks (ReLU at 0, max): a finite
difference straddling one measures neither side's slope.

Cases, each checked with `trainwell.diagnostics.gradcheck` (float64 finite differences, h = 1e-5 —
CS231n's "h ≈ 1e-5" — unless said otherwise; every coordinate), on 64 inputs ~ N(0, 1) (seeded):
* x·tanh(x) with a hand-written correct backward, in float64;
* the same with a slightly wrong backward (the derivative scaled by 1.01: a 1% bug), and with a
  clearly wrong one (tanh' written as 1 − tanh instead of 1 − tanh²);
* the correct function computed in float32 inside (h = 1e-3, a float32-sized step);
* ReLU on inputs away from 0 (|x| ≥ 0.1), and on inputs within 1e-7 of 0 (the kink);
* a small MLP (trainwell's `mlp`, ReLU, Kaiming) on 8 MNIST-1D-shaped inputs, all its parameters.
Claim checked: each case gets the verdict the lectures predict — correct float64 code "good", the
1% bug "suspicious", the real bug "wrong", float32 and the kink not "good", the MLP passing the
check (`GradcheckResult.ok`).
"""
from __future__ import annotations

import torch

from trainwell.experiments import figures
from trainwell.experiments.budget import Budget
from trainwell.experiments.result import ExperimentResult


def _xtanh(scale: float = 1.0, wrong_square: bool = False):
    """x·tanh(x) as an autograd Function with a hand-written backward (optionally buggy)."""

    class XTanh(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            t = torch.tanh(x)
            ctx.save_for_backward(x, t)
            return x * t

        @staticmethod
        def backward(ctx, g):
            x, t = ctx.saved_tensors
            dt = (1 - t) if wrong_square else (1 - t * t)
            return g * (t + x * dt) * scale

    return XTanh.apply


def cases(budget: Budget) -> list[tuple[str, str, object, torch.Tensor, float]]:
    """(case, expected verdict, function, input, eps)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, generator=g, dtype=torch.float64)
    away = x.sign() * (x.abs() + 0.1)
    kink = (torch.rand(64, generator=g, dtype=torch.float64) - 0.5) * 2e-7
    correct = _xtanh()
    out = [
        ("x·tanh(x), correct backward, float64", "good", correct, x, 1e-5),
        ("… backward off by 1% (×1.01)", "suspicious", _xtanh(scale=1.01), x, 1e-5),
        ("… tanh' written as 1 − tanh (a real bug)", "wrong", _xtanh(wrong_square=True), x, 1e-5),
        ("correct, but computed in float32 (h = 1e-3)", "not good", lambda v: correct(v.float()).double(), x, 1e-3),
        ("ReLU, inputs away from 0 (|x| ≥ 0.1)", "good", torch.relu, away, 1e-5),
        ("ReLU, inputs within 1e-7 of 0 (the kink)", "not good", torch.relu, kink, 1e-5),
    ]
    return out


def run(budget: str = "full", progress: bool = False, out_dir=None) -> ExperimentResult:
    from trainwell.diagnostics import gradcheck
    from trainwell.diagnostics.gradcheck import verdict_for
    from trainwell.models import build_model

    b = Budget.of(budget)
    rows, checks = [], []
    for name, expected, fn, x, eps in cases(b):
        result = gradcheck(fn, x, eps=eps, max_per_tensor=None)
        checks.append((name, expected, result.max_rel_error, result.verdict, result.ok))
    mlp = build_model({"name": "mlp", "widths": [16, 16]}, (1, 40), 10, torch.Generator().manual_seed(0))
    inputs = torch.randn(8, 1, 40, generator=torch.Generator().manual_seed(1))
    per = b.pick(smoke=5, quick=40, full=None)
    result = gradcheck(mlp, inputs, eps=1e-5, max_per_tensor=per)
    checks.append((f"MLP 40→16→16→10, ReLU, every parameter{'' if per is None else f' ({per} coordinates each)'}",
                   "passes", result.max_rel_error, result.verdict, result.ok))
    ok = []
    for name, expected, err, verdict, passes in checks:
        if expected == "not good":
            agrees = verdict != "good"
        elif expected == "passes":
            agrees = passes
        else:
            agrees = verdict == expected
        ok.append(agrees)
        rows.append([name, f"{err:.1e}", verdict, expected, "yes" if agrees else "NO"])
    passed = all(ok)
    plots = [figures.bars("largest relative error per case", [f"{i + 1}" for i in range(len(checks))],
                          [max(c[2], 1e-18) for c in checks], ylabel="max relative error (log)", logy=True, hline=1e-7)]
    return ExperimentResult(
        name="gradcheck",
        claim="Gradient check: a correct backward gives relative error < 1e-7 in float64, a wrong one > 1e-2; float32 "
              "and kinks give larger errors.",
        columns=["case", "max relative error", "verdict", "lectures' expectation", "agrees"],
        rows=rows,
        verdict=f"{sum(ok)}/{len(ok)} cases get the verdict the lectures predict"
                + ("" if passed else ": " + "; ".join(r[0] for r, a in zip(rows, ok) if not a)),
        passed=passed,
        tolerance=f"the verdicts of trainwell.diagnostics.gradcheck (as its verdict_for reads an error: "
                  f"{verdict_for(5e-8)} at 5e-8, {verdict_for(1e-5)} at 1e-5, {verdict_for(1e-3)} at 1e-3, "
                  f"{verdict_for(0.1)} at 0.1) match the expectation of every case",
        setting="trainwell.diagnostics.gradcheck: centered differences in float64, every coordinate (the MLP: "
                "a sample); 64 inputs ~ N(0, 1) (seeded); the plot numbers the cases in table order",
        notes=("A 1% bug lands in the 'suspicious' band: the error equals the bug's size, so a relative error of 1e-2 "
               "is never 'fine' unless a kink explains it. Deliberately placed at the kink, ReLU's error is of order 1; "
               "a random input is almost never within h of 0, so the MLP meets none. "
               + ("" if ok[0] else
                  f"The correct float64 case reads {checks[0][2]:.1e}: an error formed per coordinate divides the "
                  "finite difference's rounding noise (≈ 1e-16·|f|/h) by that coordinate's own gradient, and "
                  "d/dx x·tanh(x) = 0 at x = 0 — near-zero gradients make correct code look suspicious. Measuring a "
                  "tensor's error against its gradient scale instead avoids this.")),
        plots=plots,
        details={"checks": [{"case": n, "expected": e, "max_rel_error": err, "verdict": v, "ok": o}
                            for n, e, err, v, o in checks]},
    )
