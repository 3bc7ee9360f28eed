"""Bench: a random search run vectorized (one batched model) vs one trial after another (Trainer).

The MNIST-1D paper MLP (40→100→100→10, ReLU, Adam, batch 100), 32 random trials over learning rate
and weight decay (log-uniform), 2000 steps each — the same sampled configurations both ways,
timed end to end through `RecipeObjective` (`__call__` per trial vs `run_many` for all), median
of --reps repetitions. Also reports how far apart the two paths' validation accuracies are.

    .venv/bin/python bench/bench_search_vectorized.py            # 32 trials × 2000 steps, 3 reps
    .venv/bin/python bench/bench_search_vectorized.py --quick    # 8 trials × 300 steps, 1 rep

Writes bench/results/search_vectorized.json (search_vectorized_quick.json with --quick).
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from trainwell.config import read_recipe_raw
from trainwell.search import RecipeObjective, TrialSpec, parse_space, sample_points

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--trials", type=int)
    ap.add_argument("--steps", type=int)
    ap.add_argument("--reps", type=int)
    ap.add_argument("--threads", type=int, default=1, help="torch threads for both paths (default 1, as each search worker)")
    args = ap.parse_args()
    trials = args.trials or (8 if args.quick else 32)
    steps = args.steps or (300 if args.quick else 2000)
    reps = args.reps or (1 if args.quick else 3)
    torch.set_num_threads(args.threads)

    _, raw = read_recipe_raw("search_mnist1d_mlp")
    space = parse_space(raw["search"]["space"])
    points = sample_points(space, trials, "random", seed=0)
    specs = [TrialSpec(i, 1, p, steps) for i, p in enumerate(points)]
    obj = RecipeObjective(raw)
    obj.shared_data(obj.recipe_for({}, steps))  # load and preprocess the data once, outside the timing

    seq_times, vec_times = [], []
    seq = vec = None
    for rep in range(reps):
        t = time.perf_counter()
        vec = obj.run_many(specs)
        vec_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        seq = [obj(s) for s in specs]
        seq_times.append(time.perf_counter() - t)
        print(f"rep {rep + 1}/{reps}: sequential {seq_times[-1]:.1f} s, vectorized {vec_times[-1]:.1f} s", flush=True)

    diffs = [abs(s["value"] - v["value"]) for s, v in zip(seq, vec) if isinstance(v, dict)]
    result = {
        "bench": "search_vectorized",
        "trials": trials, "steps": steps, "reps": reps, "threads": torch.get_num_threads(),
        "model": raw["model"], "optimizer": raw["optim"]["name"], "batch_size": raw["train"]["batch_size"],
        "sequential_seconds": seq_times, "vectorized_seconds": vec_times,
        "sequential_median_s": statistics.median(seq_times), "vectorized_median_s": statistics.median(vec_times),
        "speedup": statistics.median(seq_times) / statistics.median(vec_times),
        "engine": vec[0]["engine"] if isinstance(vec[0], dict) else None,
        "val_acc_abs_diff_max": max(diffs) if diffs else None,
        "val_acc_abs_diff_mean": statistics.mean(diffs) if diffs else None,
        "best_val_acc_sequential": max(s["value"] for s in seq),
        "best_val_acc_vectorized": max(v["value"] for v in vec if isinstance(v, dict)),
        "python": platform.python_version(), "torch": torch.__version__, "machine": platform.machine(),
    }
    print(f"{trials} trials × {steps} steps: sequential {result['sequential_median_s']:.1f} s, vectorized "
          f"{result['vectorized_median_s']:.1f} s → {result['speedup']:.1f}× (engine {result['engine']}); "
          f"|Δ val acc| max {result['val_acc_abs_diff_max']:.4f}, mean {result['val_acc_abs_diff_mean']:.4f}")
    out = ROOT / "bench" / "results" / ("search_vectorized_quick.json" if args.quick else "search_vectorized.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
