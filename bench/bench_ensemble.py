"""Ensemble training cost: K same-architecture members as ONE batched model vs one by one.

Both sides train the members of trainwell/recipes/ensemble_mnist1d.toml (a small 1-D ConvNet on
MNIST-1D, AdamW, one-cycle schedule, batch 128) from the seeds ``seed + 10k`` as `trainwell
ensemble` does, with the same batches, schedule and evaluation steps:

* vectorized: `trainwell.vectorized.train_many` — all K members in one forward/backward per
  step (grouped convolutions, bmm; the "batched" engine);
* one by one: K runs of `trainwell.assemble.from_recipe(...).fit()` (the `trainwell train` loop).

Only training is timed (data prepared once, scoring excluded). The two alternate in one process
(which goes first flips each repeat); reported are the medians of wall-clock and CPU seconds
(time.process_time, the stable one on a loaded machine), the speedup one-by-one / vectorized and
the time ratio vectorized / one-by-one (the old issue bar: <= 0.5), and what
`choose_engine` picks. torch runs with 1 thread on both sides.

    python bench/bench_ensemble.py              # K = 8 members, 3 epochs, 3 repeats; table K = 2 4 8 16 32 (1 epoch)
    python bench/bench_ensemble.py --quick      # K = 8, 1 epoch, 1 repeat; table K = 2 8 (0.5 epoch)

Writes bench/results/ensemble.json (ensemble_quick.json with --quick).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from bench_vectorized import Setup, compare, environment, print_table, write_json

RESULTS = Path(__file__).resolve().parent / "results"
RECIPE = "ensemble_mnist1d"


def members(s: Setup, k: int) -> list[tuple[int, float, float]]:
    """(seed, lr, weight decay) of K members: the recipe's optimizer, seeds seed + 10k."""
    o = s.recipe.optim
    return [(s.recipe.seed + 10 * i, o.lr, o.weight_decay) for i in range(k)]


def row(s: Setup, k: int, repeats: int) -> dict:
    r = compare(s, k, repeats, trials=members(s, k))
    r["time_ratio_wall"] = 1.0 / r["speedup_wall"]
    r["time_ratio_cpu"] = 1.0 / r["speedup_cpu"]
    return r


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=8)
    ap.add_argument("--epochs", type=float)
    ap.add_argument("--repeats", type=int)
    ap.add_argument("--ks", type=int, nargs="*", help="K of the table (none: no table)")
    ap.add_argument("--table-epochs", type=float)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help='override the member recipe, e.g. --set \'model={name="mlp", widths=[256, 256]}\'')
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    epochs = args.epochs or (1.0 if args.quick else 3.0)
    repeats = args.repeats or (1 if args.quick else 3)
    ks = args.ks if args.ks is not None else ([2, 8] if args.quick else [2, 4, 8, 16, 32])
    table_epochs = args.table_epochs or (0.5 if args.quick else 1.0)
    torch.set_num_threads(1)

    s = Setup.of(RECIPE, [f"train.epochs={epochs}", *args.set])
    compare(s, 2, 1, trials=members(s, 2))  # warm-up of both paths (allocator, kernels, imports)
    head = row(s, args.members, repeats)
    print_table(f"{args.members} members × {epochs:g} epochs, median of {repeats}", [head])
    print(f"time ratio vectorized / one by one: wall {head['time_ratio_wall']:.3f}, cpu {head['time_ratio_cpu']:.3f} "
          f"(old bar: <= 0.5); ensemble-member |Δ val acc| max {head['val_acc_abs_diff_max']:.4f}")
    result = {
        "bench": "ensemble", "recipe": f"trainwell/recipes/{RECIPE}.toml", "overrides": args.set, "members": args.members,
        "epochs": epochs, "repeats": repeats, **environment(1),
        "command": " ".join(["python bench/bench_ensemble.py", *(argv if argv is not None else sys.argv[1:])]),
        "headline": head, "ratio_wall": head["time_ratio_wall"], "ratio_cpu": head["time_ratio_cpu"],
        "speedup_wall": head["speedup_wall"], "speedup_cpu": head["speedup_cpu"],
    }
    if ks:
        t = Setup.of(RECIPE, [f"train.epochs={table_epochs}", *args.set])
        rows = [row(t, k, repeats) for k in ks]
        print_table(f"K members × {table_epochs:g} epoch(s), median of {repeats}", rows)
        result["table"] = {"epochs": table_epochs, "rows": rows}
    out = args.out or RESULTS / ("ensemble_quick.json" if args.quick else "ensemble.json")
    write_json(out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
