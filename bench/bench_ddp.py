"""Data-parallel training on this machine: 2 gloo processes vs 1 on the default recipe.

Two measurements, each a median over interleaved repeats (a shared machine is noisy):

1. steps/s. `trainwell train` on the default recipe (5-layer ConvNet, 146k parameters, global batch
   128) for `--steps` steps, evaluated once at the end, as (a) 1 process with 1 thread, (b) 1 process
   with 2 threads, (c) `--nproc 2`: 2 gloo processes with 1 thread each and 64 examples a step. The
   rate is the median `steps_per_s` of the run's metric windows, the first one left out (warm-up):
   process start-up and data loading are not counted. A repeat runs a, b, c back to back; we report
   the median over repeats of c/a and c/b.
2. communication per step. In 2 gloo processes (`trainwell.train.launch.run_local`), the time of
   one all_reduce of a float32 tensor of the model's parameter count — what DDP sends each step
   (its buckets overlap backward, so this is an upper bound of the time it adds) — median over
   `--reps`, and its share of a 2-process step from (1).

    python bench/bench_ddp.py                 # 3 repeats × 300 steps
    python bench/bench_ddp.py --quick         # 1 repeat × 100 steps
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_train(steps: int, nproc: int, threads: int, out: Path) -> float:
    """Median window steps/s of one `trainwell train` run of the default recipe."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "TORCHELASTIC_RUN_ID"):
        env.pop(key, None)
    cmd = [sys.executable, "-m", "trainwell", "train", "--quiet", "--no-report", "--out", str(out),
           "--set", f"train.steps={steps}", "--set", f"train.eval_every={steps}", "--set", "train.log_every=20",
           "--set", f"train.threads={threads}", "--nproc", str(nproc)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    rates = [json.loads(line)["steps_per_s"] for line in (out / "metrics.jsonl").read_text().splitlines()
             if json.loads(line)["split"] == "train"]
    return statistics.median(rates[1:] if len(rates) > 2 else rates)


def allreduce_worker(numel: int, reps: int, out: str) -> None:
    """In each launched process: the median time of an all_reduce of `numel` float32 values."""
    import torch
    import torch.distributed as dist

    from trainwell.train.distributed import init_from_env

    torch.set_num_threads(1)
    procs = init_from_env("cpu")
    grad = torch.randn(numel)
    times = []
    for i in range(reps + 10):
        dist.barrier()
        start = time.perf_counter()
        dist.all_reduce(grad)
        grad.div_(2)
        if i >= 10:
            times.append(time.perf_counter() - start)
    if procs.rank == 0:
        Path(out).write_text(json.dumps({"median_s": statistics.median(times), "reps": reps}))
    dist.destroy_process_group()


def parameter_count() -> int:
    import torch

    from trainwell.config import load_recipe
    from trainwell.models import MODELS

    recipe = load_recipe("default")
    model = MODELS.build(recipe.model, input_shape=(1, 40), num_classes=10, generator=torch.Generator().manual_seed(0))
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--reps", type=int, default=200, help="all_reduce repetitions")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ddp.json")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.steps, args.reps = 1, 100, 50
    from trainwell.train.launch import run_local

    numel = parameter_count()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            one = run_train(args.steps, 1, 1, Path(tmp) / f"one-{r}")
            one2 = run_train(args.steps, 1, 2, Path(tmp) / f"one2-{r}")
            two = run_train(args.steps, 2, 1, Path(tmp) / f"two-{r}")
            rows.append({"one_1thread": one, "one_2threads": one2, "two_processes": two})
            print(f"repeat {r + 1}: steps/s 1 process 1 thread {one:.1f}, 1 process 2 threads {one2:.1f}, "
                  f"2 processes {two:.1f}", flush=True)
        reduce_out = Path(tmp) / "allreduce.json"
        failures = run_local(2, allreduce_worker, (numel, args.reps, str(reduce_out)))
        if failures:
            raise RuntimeError(f"all_reduce benchmark failed: {[f.describe() for f in failures]}")
        allreduce_s = json.loads(reduce_out.read_text())["median_s"]
    vs_one = statistics.median(r["two_processes"] / r["one_1thread"] for r in rows)
    vs_one2 = statistics.median(r["two_processes"] / r["one_2threads"] for r in rows)
    step_two = 1.0 / statistics.median(r["two_processes"] for r in rows)
    result = {"steps": args.steps, "repeats": args.repeats, "parameters": numel, "runs": rows,
              "ratio_2proc_vs_1proc_1thread": vs_one, "ratio_2proc_vs_1proc_2threads": vs_one2,
              "allreduce_ms": 1e3 * allreduce_s, "step_ms_2proc": 1e3 * step_two,
              "allreduce_share_of_step": allreduce_s / step_two, "cpus": os.cpu_count()}
    print(f"\n2 gloo processes vs 1 (default recipe, global batch 128, {args.steps} steps, median of {args.repeats}):")
    print(f"  steps/s ratio vs 1 process, 1 thread:  {vs_one:.2f}x")
    print(f"  steps/s ratio vs 1 process, 2 threads: {vs_one2:.2f}x")
    print(f"  all_reduce of {numel:,} float32 gradients (2 gloo processes): {1e3 * allreduce_s:.2f} ms "
          f"= {100 * allreduce_s / step_two:.0f}% of a 2-process step ({1e3 * step_two:.1f} ms)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
