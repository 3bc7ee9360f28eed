"""Bench: compute saved by pruning (median / Hyperband, with the hopeless verdicts) at an equal best result.

The packaged recipe search_mnist1d_mlp, random search of 32 trials × --steps steps through the
Trainer (pruning stops single trials, so nothing is vectorized), evaluated every --eval-every steps,
search seeds 0..N−1. Random search seeds each trial's sampler by its number, so the searches with
and without a pruner propose the SAME 32 configurations: the comparison is exact. Per seed and
pruner: training steps run vs budgeted (the compute saved), the best final validation accuracy
and whether it equals the unpruned search's best (same configuration), and wall time (interleaved,
one torch thread; a ratio, since the machine is shared).

    .venv/bin/python bench/bench_search_pruning.py                  # 3 seeds × 32 trials × 600 steps
    .venv/bin/python bench/bench_search_pruning.py --seeds 1 --steps 300

Writes bench/results/search_pruning.json.
"""
from __future__ import annotations

import argparse
import copy
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
PRUNERS = ("none", "median", "hyperband")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=32)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    _, raw = read_recipe_raw("search_mnist1d_mlp")
    raw = copy.deepcopy(raw)
    raw["train"]["eval_every"] = args.eval_every
    objective = RecipeObjective(raw)
    objective(TrialSpec(0, 1, {}, 5))  # warm-up: the first Trainer run of a process pays one-off start-up costs
    rows = []
    for seed in range(args.seeds):
        full = None
        for pruner in PRUNERS:
            table = {**raw["search"], "sampler": "random", "pruner": pruner, "trials": args.trials, "steps": args.steps,
                     "seed": seed, "vectorize": "off"}
            with tempfile.TemporaryDirectory() as tmp:
                result = run_search(plan_from_table(table), objective, search_dir=tmp)
            best, c = result.best, result.compute
            if pruner == "none":
                full = best
            row = {"seed": seed, "pruner": pruner, "best_val_accuracy": best["value"], "best_trial": best["number"],
                   "same_best_as_unpruned": best["number"] == full["number"] and best["value"] == full["value"],
                   "steps_run": c["steps_run"], "steps_budgeted": c["steps_budgeted"], "saved": c["saved"],
                   "pruned": c["pruned"], "pruned_hopeless": c["pruned_hopeless"], "seconds": result.seconds}
            rows.append(row)
            print(json.dumps(row), flush=True)
    summary = {}
    for pruner in PRUNERS:
        mine = [r for r in rows if r["pruner"] == pruner]
        base = [r for r in rows if r["pruner"] == "none"]
        summary[pruner] = {
            "median_saved": statistics.median(r["saved"] for r in mine),
            "median_best_val_accuracy": statistics.median(r["best_val_accuracy"] for r in mine),
            "same_best_as_unpruned": sum(r["same_best_as_unpruned"] for r in mine),
            "median_time_ratio_to_unpruned": statistics.median(r["seconds"] / b["seconds"] for r, b in zip(mine, base)),
            "pruned_median": statistics.median(r["pruned"] for r in mine),
            "hopeless_median": statistics.median(r["pruned_hopeless"] for r in mine),
        }
    out = {"bench": "search_pruning", "recipe": "search_mnist1d_mlp", "trials": args.trials, "steps": args.steps,
           "eval_every": args.eval_every, "seeds": args.seeds, "summary": summary, "rows": rows,
           "cpus": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__}
    for pruner, s in summary.items():
        print(f"{pruner:9s} compute saved {100 * s['median_saved']:5.1f}%  best val {100 * s['median_best_val_accuracy']:.2f}%  "
              f"same best as unpruned {s['same_best_as_unpruned']}/{args.seeds}  time ×{s['median_time_ratio_to_unpruned']:.2f}")
    path = ROOT / "bench" / "results" / "search_pruning.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
