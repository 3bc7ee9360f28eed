"""The search claims as `trainwell experiment` entries (tables built from `search_strategies`)."""
from __future__ import annotations

from trainwell.experiments.result import ExperimentResult
from trainwell.experiments.search_strategies import coarse_to_fine_vs_random, random_vs_grid


def run_random_vs_grid(quick: bool = False, progress: bool = False, out_dir=None) -> ExperimentResult:
    """Bergstra & Bengio 2012 on a synthetic objective where only the learning rate matters."""
    out = random_vs_grid(seeds=20 if quick else 50, trials=16)
    s = out["summary"]
    rows = [["random", 16, round(s["random_median_best"], 3), s["random_wins"]],
            ["grid (4×4)", 16, round(s["grid_median_best"], 3), s["seeds"] - s["random_wins"] - s["ties"]]]
    passed = s["random_median_best"] > s["grid_median_best"]
    return ExperimentResult(
        name="random-vs-grid",
        claim="With the same budget, random search beats grid search when only one of two hyperparameters "
        "matters (Bergstra & Bengio 2012): a 4×4 grid tries 4 learning rates, random search 16.",
        columns=["strategy", "trials", "median best objective", "seeds won"],
        rows=rows,
        verdict=f"random median best {s['random_median_best']:.3f} vs grid {s['grid_median_best']:.3f} "
        f"over {s['seeds']} seeds (random wins {s['random_wins']}, ties {s['ties']})",
        passed=passed,
        details=out,
    )


def run_coarse_to_fine(quick: bool = False, progress: bool = False, out_dir=None) -> ExperimentResult:
    """Coarse→fine vs random search with the same total steps (MNIST-1D paper MLP, lr × weight decay)."""
    seeds, trials, steps = (2, 8, 300) if quick else (5, 32, 2000)  # the setting: 32 trials × 2000 steps
    out = coarse_to_fine_vs_random(seeds=seeds, trials=trials, steps=steps, out=out_dir)
    s = out["summary"]
    rows = [[r["seed"], round(100 * r["random_best_val"], 2), round(100 * r["coarse-to-fine_best_val"], 2),
             r["random_total_steps"], r["coarse-to-fine_total_steps"]] for r in out["rows"]]
    passed = s["coarse_to_fine_median_best_val"] >= s["random_median_best_val"]
    return ExperimentResult(
        name="coarse-to-fine",
        claim="A coarse stage of many short trials over wide ranges, then a fine stage of longer trials around "
        "the best, finds a configuration at least as good as random search with the same total steps.",
        columns=["seed", "random best val %", "coarse→fine best val %", "random steps", "coarse→fine steps"],
        rows=rows,
        verdict=f"median best val: coarse→fine {100 * s['coarse_to_fine_median_best_val']:.2f}% vs random "
        f"{100 * s['random_median_best_val']:.2f}% ({s['coarse_to_fine_at_least_as_good']}/{seeds} seeds at least as good)",
        passed=passed,
        details=out,
    )
