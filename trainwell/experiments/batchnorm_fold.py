"""At test time BatchNorm is a fixed affine map per channel and folds into the preceding conv/linear
layer: W' = s·W, b' = s·(b − μ) + β with s = γ/√(σ² + ε) — the same outputs without the
BatchNorm's pass over the activations ("zero test-time cost"; Ioffe & Szegedy 2015).

Setting: a 1-D ConvNet on MNIST-1D with BatchNorm after each of its 4 convs (32 channels,
kernel 3), trained briefly so the running statistics are not trivial; `trainwell.nn.fold_batchnorm`
makes the folded copy. Measured: max |Δ| of the logits on the validation set (relative to the
largest logit), the validation accuracy of both, and the inference time of a batch of 256 in eval
mode — the two models timed interleaved, 1 thread, the median of the per-pair ratios.
Claims checked: the outputs agree within 1e-5 (relative), the accuracy within one example, and the folded
model is faster (median time ratio folded/unfolded < 1).
"""
from __future__ import annotations

import statistics
import time

import torch

from trainwell.experiments import figures
from trainwell.experiments.budget import Budget
from trainwell.experiments.common import accuracy, mnist1d, train_curve
from trainwell.experiments.result import ExperimentResult

MODEL = {"name": "convnet", "channels": [32, 32, 32, 32], "kernel": 3, "pool": ["none", "max", "none", "max"],
         "norm": "batch", "head": "gap"}


@torch.no_grad()
def timed_pairs(a, b, x: torch.Tensor, pairs: int, inner: int) -> list[tuple[float, float]]:
    """(seconds of a, seconds of b) per pair; a and b alternate (a first, then b first) to cancel drift."""
    out = []
    for i in range(pairs):
        times = {}
        for name, model in ((("a", a), ("b", b)) if i % 2 == 0 else (("b", b), ("a", a))):
            if x.is_cuda:
                torch.cuda.synchronize(x.device)
            start = time.perf_counter()
            for _ in range(inner):
                model(x)
            if x.is_cuda:
                torch.cuda.synchronize(x.device)
            times[name] = (time.perf_counter() - start) / inner
        out.append((times["a"], times["b"]))
    return out


def run(budget: str = "full", progress: bool = False, out_dir=None) -> ExperimentResult:
    from trainwell.nn import count_batchnorms, fold_batchnorm

    b = Budget.of(budget)
    steps = b.pick(smoke=5, quick=100, full=300)
    pairs = b.pick(smoke=3, quick=30, full=100)
    data = mnist1d()
    c = train_curve(MODEL, data, steps=steps, optimizer="momentum", lr=0.05, batch_size=64, log_every=20, label="bn")
    model = c.model.eval()
    folded = fold_batchnorm(model)
    with torch.no_grad():
        y0, y1 = model(data.x_val), folded(data.x_val)
    rel = float((y0 - y1).abs().max() / y0.abs().max())
    acc0, acc1 = accuracy(model, data.x_val, data.y_val), accuracy(folded, data.x_val, data.y_val)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x = data.x_val[:256]
        timed_pairs(model, folded, x, 2, 5)  # warm-up
        times = timed_pairs(model, folded, x, pairs, 10)
    finally:
        torch.set_num_threads(threads)
    ratios = [f / u for u, f in times]
    ratio = statistics.median(ratios)
    t_unfolded = statistics.median(u for u, _ in times)
    t_folded = statistics.median(f for _, f in times)
    passed = rel <= 1e-5 and abs(acc0 - acc1) <= 1.0 / len(data.x_val) and ratio < 1.0
    rows = [["unfolded", count_batchnorms(model), f"{100 * acc0:.2f}", f"{1e3 * t_unfolded:.3f}", "1.00"],
            ["folded", count_batchnorms(folded), f"{100 * acc1:.2f}", f"{1e3 * t_folded:.3f}", f"{ratio:.3f}"]]
    plots = [figures.lines("per-pair time ratio folded / unfolded (interleaved)",
                           [figures.series("folded / unfolded", list(range(1, len(ratios) + 1)), ratios)],
                           xlabel="pair", ylabel="time ratio", hline=1.0)]
    return ExperimentResult(
        name="batchnorm-fold",
        claim="At test time BatchNorm folds into the preceding layer: the same outputs, without its inference cost.",
        columns=["model", "BatchNorm layers", "val acc %", "ms per batch of 256 (median)", "time ratio"],
        rows=rows,
        verdict=(f"outputs agree within {rel:.1e} (relative), accuracy {100 * acc0:.2f}% both ways; folded/unfolded time "
                 f"{ratio:.3f} (median of {pairs} interleaved pairs, 1 thread, {1 / ratio:.2f}× faster)"),
        passed=passed,
        tolerance="max |Δ logits| ≤ 1e-5 of the largest logit, accuracy within one example, median time ratio < 1",
        setting=f"MNIST-1D, ConvNet 4×32 (kernel 3) with BatchNorm after every conv, {steps} training steps; "
                f"fold_batchnorm; timing: batch 256, eval mode, 1 thread, {pairs} interleaved pairs of 10 calls",
        notes="The saving is the BatchNorm's own pass over the activations, so it is bounded by BatchNorm's share "
              "of the inference time: a few to tens of percent next to convolutions, more next to cheap ones. "
              "Times vary with the machine's load; the ratio of interleaved pairs is what to read.",
        plots=plots,
        details={"relative_max_diff": rel, "ratios": ratios, "times": times, "threads_used_for_timing": 1},
    )
