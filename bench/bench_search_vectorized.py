"""Bench: a random search run vectorized (one batched model) vs one trial after another (Trainer).

The search of trainwell/recipes/search_mnist1d_mlp.toml: the MNIST-1D paper MLP (40→100→100→10,
ReLU, Adam, batch 100), N random trials over its space (lr and weight decay, log-uniform,
sampled with `trainwell.search.sample_points`, seed 0), 2000 steps each. The same trials both
ways, alternating in one process (which goes first flips each repeat), data prepared once and
not timed:

* one by one: `trainwell.assemble.from_recipe(...).fit()` per trial (the plain Trainer path);
* vectorized: `train_many` over all N trials (engine "auto").

Reported: median wall and CPU seconds, the median of the per-repeat speedups (one-by-one time /
vectorized time), the largest |Δ final val accuracy| between the paths (they differ by float
rounding only, so it is ~0 at moderate lr and can reach a few points for the chaotic lr ≈ 0.1
trials), and what `choose_engine` picks. Then a table over K (the first K trials) at fewer steps.
Bar: speedup ≥ 4 at N = 32. train_many flushes subnormal floats to zero on a CPU (`denormal.py`;
late in the run ~9% of the weights of trials with dead units are subnormal); the plain Trainer
does not, so ``--trainer-flush`` reruns the comparison with the Trainer flushing too.

    .venv/bin/python bench/bench_search_vectorized.py            # 32 trials × 2000 steps, 3 reps; K table 300 steps
    .venv/bin/python bench/bench_search_vectorized.py --quick    # 8 trials × 300 steps, 1 rep; K table 100 steps

Writes bench/results/search_vectorized.json (…_quick.json with --quick, …_trainer_flush.json with
--trainer-flush).
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

from bench_vectorized import Setup, compare, environment, print_table, write_json
from trainwell.config import default_recipe_path, read_toml
from trainwell.search import parse_space, sample_points

RESULTS = Path(__file__).resolve().parent / "results"
RECIPE = "search_mnist1d_mlp"


def search_trials(n: int) -> list[tuple[int, float, float]]:
    """(seed, lr, weight decay) of the recipe's random search: its space, sampled as `trainwell search` does."""
    raw = read_toml(default_recipe_path(RECIPE))
    points = sample_points(parse_space(raw["search"]["space"]), n, "random", seed=raw["search"].get("seed", 0))
    seed = raw.get("seed", 0)
    return [(seed, p["optim.lr"], p["optim.weight_decay"]) for p in points]


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--trials", type=int)
    ap.add_argument("--steps", type=int)
    ap.add_argument("--reps", type=int)
    ap.add_argument("--ks", type=int, nargs="*", help="K of the table (default 2 4 8 16 32; none: no table)")
    ap.add_argument("--table-steps", type=int)
    ap.add_argument("--threads", type=int, default=1, help="torch threads for both paths (default 1, as each search worker)")
    ap.add_argument("--trainer-flush", action="store_true",
                    help="run the Trainer with subnormal floats flushed to zero too, as train_many does")
    args = ap.parse_args(argv)
    n = args.trials or (8 if args.quick else 32)
    steps = args.steps or (300 if args.quick else 2000)
    reps = args.reps or (1 if args.quick else 3)
    ks = args.ks if args.ks is not None else ([2, 8] if args.quick else [2, 4, 8, 16, 32])
    table_steps = args.table_steps or (100 if args.quick else 300)
    torch.set_num_threads(args.threads)

    trials = search_trials(max([n, *ks]))
    s = Setup.of(RECIPE, [], steps)
    compare(s, 2, 1, trials=trials[:2])  # warm-up of both paths (allocator, kernels, imports)
    head = compare(s, n, reps, trials=trials[:n], trainer_flush=args.trainer_flush)
    print(f"{n} trials × {steps} steps, median of {reps}{', Trainer flushing subnormals too' if args.trainer_flush else ''}: one by one {head['one_by_one_wall_s']:.1f} s, vectorized "
          f"{head['vectorized_wall_s']:.1f} s → {head['speedup_wall']:.2f}× wall, {head['speedup_cpu']:.2f}× cpu "
          f"(engine {head['engine']}, bar ≥ 4); |Δ val acc| max {head['val_acc_abs_diff_max']:.4f}, "
          f"mean {head['val_acc_abs_diff_mean']:.4f}; choose_engine: {head['choose_engine']}")
    result = {
        "bench": "search_vectorized", "recipe": f"trainwell/recipes/{RECIPE}.toml", "trials": n, "steps": steps, "reps": reps,
        **environment(args.threads),
        "command": " ".join(["python bench/bench_search_vectorized.py", *(argv if argv is not None else sys.argv[1:])]),
        "headline": head, "speedup": head["speedup_wall"], "speedup_cpu": head["speedup_cpu"],
        "meets_bar": head["speedup_wall"] >= 4.0,
    }
    if ks:
        t = Setup.of(RECIPE, [], table_steps)
        rows = [compare(t, k, reps, trials=trials[:k], trainer_flush=args.trainer_flush) for k in ks]
        print_table(f"first K trials × {table_steps} steps, median of {reps}", rows)
        result["table"] = {"steps": table_steps, "rows": rows}
        result["table_median_speedup"] = statistics.median(r["speedup_wall"] for r in rows)
    name = "search_vectorized" + ("_quick" if args.quick else "") + ("_trainer_flush" if args.trainer_flush else "")
    write_json(RESULTS / f"{name}.json", result)
    return result


if __name__ == "__main__":
    main()
