"""Data-parallel training on this machine: 2 gloo processes vs 1 on the default recipe.

Every configuration is started the same way (`trainwell.train.launch.run_local`, torch's elastic
launcher) and times only `Trainer.fit` of the default recipe (5-layer ConvNet, 146k parameters,
global batch 128) for `--steps` steps, evaluated once at the end:

    one      1 process, 1 thread         (the plain single-process path: WORLD_SIZE=1)
    two      2 gloo processes, 1 thread each, 64 examples a step each (DistributedDataParallel)
    one-2t   1 process, 2 threads        (with --two-threads: the same 2 cores used by threads; on a
             loaded machine OpenMP threads spin while other jobs hold the cores, and it collapses)

A repeat runs them back to back; we report medians over repeats of
  * steps/s ratios two/one (and two/one-2t) (wall clock: what you get on this machine now), and
  * the CPU-time ratio: CPU seconds a step of `one` / the larger of the two processes' CPU seconds
    a step of `two` — the speed-up if each process had a core of its own, which the wall clock
    shows only on an idle machine (this one is shared: other jobs' load counts in wall time);
  * communication: in the 2 processes, before training, the median time of one all_reduce of a
    float32 tensor of the model's parameter count (what DDP sends a step; its buckets overlap
    backward, so this bounds the time it adds) and its share of a 2-process step.

    python bench/bench_ddp.py                 # 3 repeats × 300 steps
    python bench/bench_ddp.py --two-threads   # also 1 process with 2 threads (use on an idle machine)
    python bench/bench_ddp.py --quick         # 1 repeat × 60 steps
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def worker(steps: int, threads: int, reduce_reps: int, out: str) -> None:
    """One process of a configuration: (optionally) the all_reduce timing, then the timed fit."""
    import torch

    from trainwell.assemble import from_recipe
    from trainwell.config import load_recipe
    from trainwell.train.distributed import gather, init_from_env

    procs = init_from_env("cpu")
    recipe = load_recipe("default", [f"train.steps={steps}", f"train.eval_every={steps}", "train.log_every=20",
                                     f"train.threads={threads}", "train.device=\"cpu\""])
    run = from_recipe(recipe, checkpoint=False)
    torch.set_num_threads(threads)
    result: dict = {"threads": torch.get_num_threads()}
    if procs is not None and reduce_reps:
        import torch.distributed as dist

        grad = torch.randn(sum(p.numel() for p in run.model.parameters()))
        times = []
        for i in range(reduce_reps + 10):
            dist.barrier()
            start = time.perf_counter()
            dist.all_reduce(grad)
            grad.div_(2)
            if i >= 10:
                times.append(time.perf_counter() - start)
        result["allreduce_s"] = statistics.median(times)
        dist.barrier()
    run.trainer  # built before the clock starts (DDP's first broadcast included)
    wall, cpu = time.perf_counter(), time.process_time()
    state = run.fit()
    result.update(wall=time.perf_counter() - wall, cpu=time.process_time() - cpu, steps=state.step)
    results = [result] if procs is None else gather(result)
    if procs is None or procs.is_main:
        Path(out).write_text(json.dumps(results))


def measure(nproc: int, threads: int, steps: int, reps: int, out: Path) -> list[dict]:
    from trainwell.train.launch import run_local

    failures = run_local(nproc, worker, (steps, threads, reps, str(out)))
    if failures:
        raise RuntimeError(f"{nproc} process(es) × {threads} thread(s) failed: {[f.describe() for f in failures]}")
    return json.loads(out.read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--reps", type=int, default=200, help="all_reduce repetitions")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--two-threads", action="store_true", help="also time 1 process with 2 threads")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ddp.json")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.steps, args.reps = 1, 60, 50
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "TORCHELASTIC_RUN_ID", "OMP_NUM_THREADS"):
        os.environ.pop(key, None)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            row = {"one": measure(1, 1, args.steps, 0, Path(tmp) / "one.json")[0],
                   "two": measure(2, 1, args.steps, args.reps, Path(tmp) / "two.json")}
            if args.two_threads:
                row["one_2threads"] = measure(1, 2, args.steps, 0, Path(tmp) / "one2.json")[0]
            rows.append(row)
            rate = {k: args.steps / (max(p["wall"] for p in v) if isinstance(v, list) else v["wall"])
                    for k, v in row.items()}
            print(f"repeat {r + 1}: steps/s " + ", ".join(f"{k} {v:.1f}" for k, v in rate.items()), flush=True)
    two_wall = [max(p["wall"] for p in row["two"]) for row in rows]
    vs_one = statistics.median(row["one"]["wall"] / w for row, w in zip(rows, two_wall))
    vs_one2 = (statistics.median(row["one_2threads"]["wall"] / w for row, w in zip(rows, two_wall))
               if args.two_threads else None)
    cpu_ratio = statistics.median(row["one"]["cpu"] / max(p["cpu"] for p in row["two"]) for row in rows)
    allreduce_s = statistics.median(row["two"][0]["allreduce_s"] for row in rows)
    step_two = statistics.median(two_wall) / args.steps
    result = {"steps": args.steps, "repeats": args.repeats, "runs": rows, "ratio_wall_2proc_vs_1proc": vs_one,
              "ratio_wall_2proc_vs_1proc_2threads": vs_one2, "ratio_cpu_2proc_vs_1proc": cpu_ratio,
              "allreduce_ms": 1e3 * allreduce_s, "step_ms_2proc": 1e3 * step_two,
              "allreduce_share_of_step": allreduce_s / step_two, "cpus": os.cpu_count(),
              "load_average": os.getloadavg()}
    print(f"\n2 gloo processes vs 1 (default recipe, global batch 128, {args.steps} steps, median of {args.repeats}; "
          f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores):")
    print(f"  steps/s, wall clock, vs 1 process 1 thread:  {vs_one:.2f}x")
    if vs_one2 is not None:
        print(f"  steps/s, wall clock, vs 1 process 2 threads: {vs_one2:.2f}x")
    print(f"  CPU seconds a step, 1 process / 2 processes (a core each): {cpu_ratio:.2f}x")
    print(f"  all_reduce of the gradients (2 gloo processes): {1e3 * allreduce_s:.2f} ms "
          f"= {100 * allreduce_s / step_two:.1f}% of a 2-process step ({1e3 * step_two:.1f} ms)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
