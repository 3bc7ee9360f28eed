"""Issue bar: the default `trainwell train` reaches >= 99.0% MNIST-1D test accuracy (median of 3
seeds) within 30 s of training wall time on 2 CPU cores.

Runs `run_recipe` on the default recipe for each seed (2 torch threads), and reports test
accuracy, the training-loop wall time (summary.json's train_seconds) and the process CPU time of
the same loop. Medians over seeds.

    python bench/bench_default_recipe.py [--seeds 0 1 2] [--threads 2]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from trainwell.config import load_recipe
from trainwell.assemble import train_recipe as run_recipe

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--recipe", default="default")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "default_recipe.json")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            recipe = load_recipe(args.recipe, [f"seed={seed}"])
            cpu = time.process_time()
            s = run_recipe(recipe, Path(tmp) / f"seed{seed}", progress=False)
            rows.append({"seed": seed, "test_accuracy": s["test_accuracy"], "val_accuracy": s["val_accuracy"],
                         "train_seconds": s["train_seconds"], "process_cpu_seconds": time.process_time() - cpu})
            print(f"seed {seed}: test {100 * s['test_accuracy']:.2f}%  train wall {s['train_seconds']:.1f} s", flush=True)
    acc = statistics.median(r["test_accuracy"] for r in rows)
    wall = statistics.median(r["train_seconds"] for r in rows)
    result = {"bench": "default_recipe", "threads": args.threads, "rows": rows, "median_test_accuracy": acc,
              "median_train_seconds": wall, "passed": acc >= 0.99 and wall <= 30.0}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"median test accuracy {100 * acc:.2f}% (bar >= 99.0%), median train wall {wall:.1f} s (bar <= 30 s) "
          f"-> {'PASS' if result['passed'] else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
