"""Experiments on search strategies (the lectures' claims about hyperparameter search).

1. `random_vs_grid` — Bergstra & Bengio (2012): when only one of two hyperparameters matters,
   random search beats grid search at the same budget, because a grid of m×m trials tries only
   m values of the important one while random search tries m² of them. Synthetic objective
   (`trainwell.search.synthetic.one_matters` with the peak placed at a random log-lr per seed, so
   the grid is not unlucky by construction); instant.
2. `coarse_to_fine_vs_random` — with the same total number of training steps, a coarse stage of
   many short trials over the full ranges followed by a fine stage of fewer full-length trials
   around the top-k finds a configuration at least as good as random search of full-length
   trials. Real runs: the MNIST-1D paper MLP (the packaged recipe search_mnist1d_mlp), trials
   vectorized. Both searches' best comes from full-length trials (coarse-to-fine: its last stage).

Each returns a result table (a list of plain dicts, one per seed, plus a summary dict).

    python -m trainwell.experiments.search_strategies --quick        # a few seconds + ~1 min
    python -m trainwell.experiments.search_strategies                 # 5 seeds × 2 searches of 16k steps
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
from pathlib import Path
from typing import Any

from trainwell.search.sampling import sample_points
from trainwell.search.space import parse_space

SPACE = {"optim.lr": {"dist": "loguniform", "low": 1e-4, "high": 1e-1},
         "optim.weight_decay": {"dist": "loguniform", "low": 1e-6, "high": 1e-2}}


def peaked(u_star: float, width: float = 0.15):
    """f(params) = exp(−(log10 lr − u*)² / 2w²): only the learning rate matters."""
    return lambda p: math.exp(-((math.log10(p["optim.lr"]) - u_star) ** 2) / (2 * width**2))


def random_vs_grid(seeds: int = 50, trials: int = 16, width: float = 0.15) -> dict[str, Any]:
    """Best objective value found by random and by grid search (same `trials`), per seed."""
    import numpy as np

    space = parse_space(SPACE)
    grid = sample_points(space, trials, "grid", seed=0)
    rows = []
    for seed in range(seeds):
        u_star = float(np.random.default_rng(seed).uniform(-4, -1))
        f = peaked(u_star, width)
        rnd = sample_points(space, trials, "random", seed=seed)
        rows.append({
            "seed": seed, "peak_log10_lr": u_star,
            "random_best": max(f(p) for p in rnd), "grid_best": max(f(p) for p in grid),
            "random_distinct_lr": len({p["optim.lr"] for p in rnd}), "grid_distinct_lr": len({p["optim.lr"] for p in grid}),
        })
    summary = {
        "experiment": "random_vs_grid", "trials": trials, "seeds": seeds, "peak_width_decades": width,
        "random_median_best": statistics.median(r["random_best"] for r in rows),
        "grid_median_best": statistics.median(r["grid_best"] for r in rows),
        "random_wins": sum(r["random_best"] > r["grid_best"] for r in rows),
        "ties": sum(r["random_best"] == r["grid_best"] for r in rows),
    }
    return {"summary": summary, "rows": rows}


def coarse_to_fine_vs_random(seeds: int = 5, trials: int = 16, steps: int = 1000, recipe: str | Path | None = None,
                             out: str | Path | None = None) -> dict[str, Any]:
    """Best final val accuracy of random (trials × steps) vs coarse-to-fine (2·trials × steps/4, then
    trials/2 × steps): the same total steps. Search seeds 0..seeds−1; trials vectorized."""
    from trainwell.config import read_recipe_raw
    from trainwell.search import RecipeObjective, plan_from_table, run_search

    _, raw = read_recipe_raw(recipe or "search_mnist1d_mlp")
    objective = RecipeObjective(raw)
    root = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="search-strategies-"))
    rows = []
    for seed in range(seeds):
        row: dict[str, Any] = {"seed": seed}
        for strategy in ("random", "coarse-to-fine"):
            table = {**raw["search"], "sampler": "random", "trials": trials, "steps": steps, "seed": seed}
            table.pop("strategy", None)
            if strategy == "coarse-to-fine":
                table["strategy"] = strategy
            plan = plan_from_table(table)
            result = run_search(plan, objective, search_dir=root / f"{strategy}-seed{seed}", batch=64)
            best = result.best
            row[f"{strategy}_best_val"] = best["value"]
            row[f"{strategy}_best_params"] = best["params"]
            row[f"{strategy}_total_steps"] = plan.total_steps()
            row[f"{strategy}_seconds"] = result.seconds
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if "params" not in k}), flush=True)
    summary = {
        "experiment": "coarse_to_fine_vs_random", "seeds": seeds, "trials": trials, "steps": steps,
        "random_median_best_val": statistics.median(r["random_best_val"] for r in rows),
        "coarse_to_fine_median_best_val": statistics.median(r["coarse-to-fine_best_val"] for r in rows),
        "coarse_to_fine_at_least_as_good": sum(r["coarse-to-fine_best_val"] >= r["random_best_val"] for r in rows),
        "search_dirs": str(root),
    }
    return {"summary": summary, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="search strategy experiments (random vs grid; coarse-to-fine vs random)")
    ap.add_argument("--quick", action="store_true", help="2 seeds × 8 trials × 300 steps for the real runs")
    ap.add_argument("--seeds", type=int)
    ap.add_argument("--trials", type=int, default=16, help="random search trials (coarse-to-fine gets the same steps)")
    ap.add_argument("--steps", type=int, default=1000, help="steps of a full-length trial")
    ap.add_argument("--out", type=Path, default=Path("runs/experiments/search_strategies"))
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rvg = random_vs_grid()
    print(json.dumps(rvg["summary"]), flush=True)
    if args.quick:
        c2f = coarse_to_fine_vs_random(seeds=args.seeds or 2, trials=8, steps=300, out=args.out / "searches")
    else:
        c2f = coarse_to_fine_vs_random(seeds=args.seeds or 5, trials=args.trials, steps=args.steps, out=args.out / "searches")
    print(json.dumps(c2f["summary"]), flush=True)
    (args.out / "results.json").write_text(json.dumps({"random_vs_grid": rvg, "coarse_to_fine_vs_random": c2f}, indent=2, default=str))
    print(f"wrote {args.out / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
