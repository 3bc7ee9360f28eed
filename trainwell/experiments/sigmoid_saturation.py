"""Sigmoid kills gradients: σ'(z) = σ(z)(1 − σ(z)) ≤ 1/4, and ≈ 0 for a saturated unit (|z| large),
so the gradient shrinks at least 4× per sigmoid layer on its way down (CS231n lecture 6).

Setting: an MLP with 6 hidden layers of 128 on MNIST-1D, trained with SGD + momentum (lr 0.1,
batch 64). Variants: sigmoid with Xavier init, sigmoid with N(0, 1) weights (saturating init),
tanh with Xavier, ReLU with Kaiming. `trainwell.diagnostics.StatsCallback` records, at step 0,
the gradient norm of every weight matrix and the saturated fraction of every sigmoid/tanh layer
(outputs within 0.01 of the flat tails); the training loss is followed for the whole run.
Claims checked: (1) in the sigmoid net the first layer's weight gradient is < 1% of the sixth's
(vanishing), while tanh and ReLU keep it above 10%; (2) that net does not learn — its training
loss stays within 5% of log C after the run — while tanh and ReLU lower theirs below 0.8·log C.
"""
from __future__ import annotations

import math

from trainwell.experiments import figures
from trainwell.experiments.budget import Budget
from trainwell.experiments.common import cell, median, mnist1d, train_curve
from trainwell.experiments.result import ExperimentResult

DEPTH, WIDTH = 6, 128
VARIANTS = {
    "sigmoid, Xavier": ("sigmoid", {"name": "xavier"}),
    "sigmoid, N(0, 1)": ("sigmoid", {"name": "normal", "std": 1.0}),
    "tanh, Xavier": ("tanh", {"name": "xavier"}),
    "ReLU, Kaiming": ("relu", {"name": "kaiming"}),
}


def run(budget: str = "full", progress: bool = False, out_dir=None) -> ExperimentResult:
    from trainwell.diagnostics import StatsCallback

    b = Budget.of(budget)
    steps = b.pick(smoke=20, quick=300, full=500)
    seeds = b.pick(smoke=1, quick=1, full=3)
    data = mnist1d()
    log_c = math.log(data.num_classes)
    m: dict[str, dict[str, list]] = {}
    per_layer, curves = {}, {}
    for label, (act, init) in VARIANTS.items():
        m[label] = {"ratio": [], "final_loss": [], "saturated": []}
        for seed in range(seeds):
            c = train_curve({"name": "mlp", "widths": [WIDTH] * DEPTH, "activation": act, "init": init}, data,
                            steps=steps, seed=seed, label=label, optimizer="momentum", lr=0.1, batch_size=64,
                            log_every=10, callbacks=[StatsCallback(every=steps)])
            first = c.records["stats"][0]
            grads = {p["name"]: p["grad_norm"] for p in first["params"]}
            norms = [grads[f"fc{i}.weight"] for i in range(1, DEPTH + 1)]
            sat = [l.get("saturated_frac") for l in first["layers"] if l.get("saturated_frac") is not None]
            m[label]["ratio"].append(norms[0] / norms[-1])
            m[label]["final_loss"].append(c.final_loss)
            m[label]["saturated"].append(sum(sat) / len(sat) if sat else None)
            if seed == 0:
                per_layer[label], curves[label] = norms, c
    rows = [[label, cell(v["ratio"], digits=4), cell(v["saturated"], 100) if any(s is not None for s in v["saturated"])
             else "—", cell(v["final_loss"], digits=3)] for label, v in m.items()]
    sig = median(m["sigmoid, Xavier"]["ratio"])
    others = {k: median(m[k]["ratio"]) for k in ("tanh, Xavier", "ReLU, Kaiming")}
    sig_loss = median(m["sigmoid, Xavier"]["final_loss"])
    other_loss = {k: median(m[k]["final_loss"]) for k in others}
    vanishing = sig < 1e-2 and all(r > 0.1 for r in others.values())
    stuck = abs(sig_loss - log_c) <= 0.05 * log_c and all(l < 0.8 * log_c for l in other_loss.values())
    passed = vanishing and stuck
    verdict = (f"gradient of layer 1 / layer {DEPTH} at init: sigmoid {sig:.1e} vs tanh {others['tanh, Xavier']:.2f}, "
               f"ReLU {others['ReLU, Kaiming']:.2f}; training loss after {steps} steps: sigmoid {sig_loss:.3f} "
               f"(log C = {log_c:.3f}) vs tanh {other_loss['tanh, Xavier']:.3f}, ReLU {other_loss['ReLU, Kaiming']:.3f}")
    plots = [
        figures.lines("weight-gradient norm per layer at init (seed 0)",
                      [figures.series(k, list(range(1, DEPTH + 1)), v) for k, v in per_layer.items()],
                      xlabel="layer", ylabel="‖∂L/∂W‖", logy=True),
        figures.lines("training loss", [figures.series(k, c.steps, c.loss) for k, c in curves.items()],
                      ylabel="training loss", hline=log_c),
    ]
    return ExperimentResult(
        name="sigmoid-saturation",
        claim="Sigmoid units kill gradients (σ' ≤ 1/4, ≈ 0 when saturated): in a deep sigmoid net the gradient "
              "reaching the first layer vanishes and the net does not learn.",
        columns=["activation, init", f"‖∇W1‖ / ‖∇W{DEPTH}‖ at init", "saturated units % at init",
                 f"training loss after {steps} steps"],
        rows=rows,
        verdict=verdict,
        passed=passed,
        tolerance="sigmoid ratio < 1e-2 while tanh/ReLU > 0.1, and sigmoid's final loss within 5% of log C while "
                  "tanh/ReLU < 0.8·log C",
        setting=f"MNIST-1D; MLP {DEPTH}×{WIDTH}; SGD+momentum lr 0.1, batch 64, {steps} steps; {seeds} seed(s); "
                "gradient norms and saturation from StatsCallback at step 0",
        notes="Even unsaturated sigmoid units multiply the backward signal by σ' ≤ 1/4, so 5 layers shrink it by "
              "≥ 4⁵ ≈ 1000. With N(0, 1) weights about half the units sit in the flat tails (their local gradient "
              "≈ 0), but the large weights re-amplify what passes: that net trains, slowly, from a huge initial loss.",
        plots=plots,
        details={"measured": m, "per_layer_grad_norm": per_layer, "steps": steps, "seeds": seeds},
    )
