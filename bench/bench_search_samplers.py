"""Bench: TPE vs random search on the MNIST-1D MLP space, best validation accuracy after 32 trials.

The packaged recipe search_mnist1d_mlp (paper MLP 40-100-100-10, Adam, lr × weight decay on log
scales), 32 trials of --steps steps each (short, so the bench runs in minutes), search seeds 0..N−1.
Both samplers train their trials vectorized (random: one batch of 32; TPE: batches of 8, since it
learns from finished trials), one torch thread, run interleaved per seed. Reports each search's
best final validation accuracy and the median over seeds.

    .venv/bin/python bench/bench_search_samplers.py                 # 3 seeds × 32 trials × 1000 steps
    .venv/bin/python bench/bench_search_samplers.py --steps 300 --seeds 1

Writes bench/results/search_samplers.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
from pathlib import Path

import torch

from trainwell.config import read_recipe_raw
from trainwell.search import RecipeObjective, TrialSpec, plan_from_table, run_search

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=32)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    _, raw = read_recipe_raw("search_mnist1d_mlp")
    objective = RecipeObjective(raw)
    objective(TrialSpec(0, 1, {}, 5))  # warm-up: the first Trainer run of a process pays one-off start-up costs
    rows = []
    for seed in range(args.seeds):
        for sampler in ("random", "tpe"):
            table = {**raw["search"], "sampler": sampler, "trials": args.trials, "steps": args.steps, "seed": seed}
            with tempfile.TemporaryDirectory() as tmp:
                result = run_search(plan_from_table(table), objective, search_dir=tmp, batch=64)
            best = result.best
            row = {"seed": seed, "sampler": sampler, "best_val_accuracy": best["value"], "best_params": best["params"],
                   "complete": sum(r["state"] == "COMPLETE" for r in result.records), "seconds": result.seconds}
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "best_params"}), flush=True)
    summary = {s: statistics.median(r["best_val_accuracy"] for r in rows if r["sampler"] == s) for s in ("random", "tpe")}
    wins = sum(t["best_val_accuracy"] > r["best_val_accuracy"]
               for t, r in zip([x for x in rows if x["sampler"] == "tpe"], [x for x in rows if x["sampler"] == "random"]))
    out = {"bench": "search_samplers", "recipe": "search_mnist1d_mlp", "trials": args.trials, "steps": args.steps,
           "seeds": args.seeds, "median_best_val_accuracy": summary, "tpe_wins": wins, "rows": rows,
           "cpus": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__}
    print(f"median best val accuracy over {args.seeds} seeds ({args.trials} trials × {args.steps} steps): "
          f"random {100 * summary['random']:.2f}%, TPE {100 * summary['tpe']:.2f}% (TPE better in {wins}/{args.seeds})")
    path = ROOT / "bench" / "results" / "search_samplers.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
