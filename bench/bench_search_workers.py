"""Bench: one vs two local search workers on the embedded (journal file) storage.

The same random search (default: 16 trials × 3000 steps of the MNIST-1D paper MLP through the
Trainer, --vectorize off, one torch thread per worker) run with --workers 1 and --workers 2; wall
time of the whole `run_search` (process start, ask/tell, trials) and a check that every
configuration ran to completion exactly once. --synthetic replaces training by a CPU-bound busy
loop of --seconds per trial (isolates Optuna's ask/tell and the journal from torch).

    .venv/bin/python bench/bench_search_workers.py
    .venv/bin/python bench/bench_search_workers.py --synthetic --trials 12 --seconds 1

Writes bench/results/search_workers.json. Report the machine's load with the numbers: two
workers can only be 2× faster if two cores are free.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from trainwell.config import read_recipe_raw
from trainwell.search import RecipeObjective, plan_from_table, run_search
from trainwell.search.synthetic import SyntheticObjective

ROOT = Path(__file__).resolve().parent.parent


def once(plan, objective, workers: int) -> dict:
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        load0 = os.getloadavg()[0]
        t = time.perf_counter()
        result = run_search(plan, objective, search_dir=tmp, workers=workers)
        seconds = time.perf_counter() - t
    done = collections.Counter(tuple(sorted(r["params"].items())) for r in result.records
                               if r["state"] in ("COMPLETE", "FAIL") and not r.get("retried"))
    return {"workers": workers, "seconds": seconds, "trials": len(result.records), "configurations_done": len(done),
            "duplicated": sum(c > 1 for c in done.values()), "load_before": load0,
            "trial_seconds_sum": sum(r.get("train_seconds", 0.0) for r in result.records)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=16)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--synthetic", action="store_true")
    ap.add_argument("--seconds", type=float, default=1.0)
    args = ap.parse_args()
    _, raw = read_recipe_raw("search_mnist1d_mlp")
    plan = plan_from_table({**raw["search"], "trials": args.trials, "steps": args.steps, "vectorize": "off"})
    objective = SyntheticObjective(sleep=args.seconds, busy=True) if args.synthetic else RecipeObjective(raw)
    one = once(plan, objective, 1)
    print(one, flush=True)
    two = once(plan, objective, 2)
    print(two, flush=True)
    result = {"bench": "search_workers", "objective": "synthetic-busy" if args.synthetic else "mnist1d-mlp-trainer",
              "trials": args.trials, "steps": args.steps, "one_worker": one, "two_workers": two,
              "ratio_two_over_one": two["seconds"] / one["seconds"], "cpus": os.cpu_count(),
              "python": platform.python_version()}
    print(f"two workers / one worker = {result['ratio_two_over_one']:.2f} (load average before: {one['load_before']:.1f}, "
          f"{two['load_before']:.1f} on {os.cpu_count()} CPUs)")
    name = "search_workers_synthetic.json" if args.synthetic else "search_workers.json"
    (ROOT / "bench" / "results" / name).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
