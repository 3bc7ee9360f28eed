"""Ensemble training cost: K same-architecture members as ONE batched model vs one by one.

Issue bar: training an ensemble of 8 same-architecture models costs <= 0.5x the time of training
them one by one. Both sides train the members of recipes/ensemble_mnist1d.toml (a small 1-D
ConvNet on MNIST-1D) with the same seeds, batches and optimizer math
(`trainwell.ensemble.independent.train_independent`):

* batched:     engine="train_many" — `trainwell.vectorized.train_many`, all K members in
               one forward/backward per step (grouped convolutions, bmm);
* one by one:  engine="trainer" — K runs of the `Trainer` loop (exactly `trainwell train`'s).

Only training is timed (the `train_seconds` of each run; data preparation and scoring excluded).
The two alternate in one process; reported are the medians over repeats of wall-clock seconds and
of this process's CPU seconds (time.process_time), and the ratio batched / one-by-one of each.
On a shared, loaded machine the CPU-time ratio is the stable one; torch runs with 1 thread so both
sides measure the same single-core work.

    python bench/bench_ensemble.py              # K=8, 3 epochs per member, 3 repeats
    python bench/bench_ensemble.py --quick      # K=8, 1 epoch, 1 repeat
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

from trainwell.config import default_recipe_path
from trainwell.config import load_recipe
from trainwell.ensemble.independent import train_independent

OUT = Path(__file__).resolve().parent / "results" / "ensemble.json"


def timed(recipe, members: int, engine: str) -> dict:
    cpu0 = time.process_time()
    run = train_independent(recipe, members, engine=engine)
    cpu = time.process_time() - cpu0
    return {"wall_s": run.train_seconds, "cpu_s_total": cpu, "engine": run.engine,
            "ensemble_acc": run.scores["ensemble"], "mean_member_acc": run.scores["mean_member"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=8)
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help='override the member recipe, e.g. --set \'model={name="mlp", widths=[256, 256]}\'')
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    if args.quick:
        args.epochs, args.repeats = 1.0, 1
    torch.set_num_threads(1)
    recipe = load_recipe(default_recipe_path("ensemble_mnist1d"), [f"train.epochs={args.epochs}", *args.set])
    timed(recipe.model_copy(update={"seed": 99}), 2, "train_many")  # warm-up (allocator, kernels)
    rows = {"batched": [], "one_by_one": []}
    for r in range(args.repeats):
        rows["batched"].append(timed(recipe, args.members, "train_many"))
        rows["one_by_one"].append(timed(recipe, args.members, "trainer"))
        b, o = rows["batched"][-1], rows["one_by_one"][-1]
        print(f"repeat {r}: batched {b['wall_s']:.1f} s wall / {b['cpu_s_total']:.1f} s cpu   "
              f"one by one {o['wall_s']:.1f} s wall / {o['cpu_s_total']:.1f} s cpu", flush=True)
    med = {k: {m: statistics.median(x[m] for x in v) for m in ("wall_s", "cpu_s_total", "ensemble_acc", "mean_member_acc")}
           for k, v in rows.items()}
    ratio_wall = statistics.median(b["wall_s"] / o["wall_s"] for b, o in zip(rows["batched"], rows["one_by_one"]))
    ratio_cpu = statistics.median(b["cpu_s_total"] / o["cpu_s_total"] for b, o in zip(rows["batched"], rows["one_by_one"]))
    print(f"\n{'':<12}{'wall s':>10}{'cpu s':>10}{'ens acc':>10}{'member acc':>12}   engine")
    for k in ("batched", "one_by_one"):
        m = med[k]
        print(f"{k:<12}{m['wall_s']:>10.2f}{m['cpu_s_total']:>10.2f}{100 * m['ensemble_acc']:>10.2f}"
              f"{100 * m['mean_member_acc']:>12.2f}   {rows[k][0]['engine']}")
    print(f"ratio batched / one by one: wall {ratio_wall:.3f}, cpu {ratio_cpu:.3f}  (bar: <= 0.5)")
    result = {
        "bench": "ensemble", "members": args.members, "epochs": args.epochs, "repeats": args.repeats,
        "recipe": "recipes/ensemble_mnist1d.toml", "overrides": args.set, "threads": 1, "medians": med, "runs": rows,
        "ratio_wall": ratio_wall, "ratio_cpu": ratio_cpu, "passed_cpu": ratio_cpu <= 0.5, "passed_wall": ratio_wall <= 0.5,
        "torch": torch.__version__, "python": platform.python_version(), "device": "cpu",
        "command": " ".join(["python bench/bench_ensemble.py", *(argv if argv is not None else sys.argv[1:])]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2))
    tmp.replace(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
