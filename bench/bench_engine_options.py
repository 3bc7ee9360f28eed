"""The Trainer's engine options on real recipes: precision, compile, accumulation.

Two parts, each run side by side in one process, interleaved per seed (every variant of seed s
runs before any variant of seed s+1, so drift of a shared machine hits all variants alike):

* **speed** — the default recipe (MNIST-1D ConvNet) in five variants: fp32 eager, ``train.precision = "bf16"``, ``train.compile = true``, both, and compile with
  per-layer statistics every 10 steps (StatsCallback). Each repeat trains every variant for
  `--speed-steps` steps (evaluation each epoch, as the recipe does) and times steps 60 to the end
  (compilation and warm-up excluded; a compiled model of the same architecture is compiled once
  per process, later repeats reuse it). Reported: the median over repeats of the paired speed
  ratio against fp32 eager, and the median time per step.
* **accuracy** — the default recipe trained to the end (560 steps) as `trainwell train` runs it
  (`train_recipe`: run directory, checkpoints) per seed and variant: test accuracy and the whole
  training wall time (what a user waits for, compilation included).
* **accumulate** — the MNIST-1D MLP recipe (100-100, Adam 1e-3, 1500 optimizer steps) with
  ``batch_size = 128`` against ``batch_size = 32, accumulate = 4``: test accuracy per seed, and the
  spread over seeds of the batch-128 runs as the seed noise the difference is compared with.

    taskset -c 1 .venv/bin/python bench/bench_engine_options.py [--seeds 0 1 2] [--threads 1]
        [--repeats 7] [--speed-steps 200] [--only speed|accuracy|accumulate]

Writes bench/results/engine_options.json.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from trainwell.assemble import train_recipe
from trainwell.config import load_recipe
from trainwell.diagnostics.callback import StatsCallback
from trainwell.train.callbacks import Callback

SPEED = {  # precision named in every variant: the default recipe itself says "auto"
    "fp32 eager": ["train.precision=fp32"],
    "bf16 eager": ["train.precision=bf16"],
    "fp32 compile": ["train.compile=true", "train.precision=fp32"],
    "bf16 compile": ["train.compile=true", "train.precision=bf16"],
    "fp32 compile + stats/10": ["train.compile=true", "train.precision=fp32"],
}
ACCUMULATE = {
    "batch 128": ["train.batch_size=128"],
    "batch 32 x accumulate 4": ["train.batch_size=32", "train.accumulate=4"],
}
WARM = 100


class StepClock(Callback):
    """Wall time from the end of step `warm` to the end of the run (the steady state)."""

    def __init__(self, warm: int):
        self.warm, self.start, self.seconds, self.steps = warm, None, None, 0

    def on_batch_end(self, state) -> None:
        if state.step == self.warm:
            self.start = time.perf_counter()

    def on_fit_end(self, state) -> None:
        if self.start is not None:
            self.seconds, self.steps = time.perf_counter() - self.start, state.step - self.warm


def run_once(name: str, overrides: list[str], seed: int, tmp: Path, stats: bool) -> dict:
    recipe = load_recipe(name, [*overrides, f"seed={seed}"])
    clock = StepClock(WARM)
    callbacks = [clock] + ([StatsCallback(every=10)] if stats else [])
    wall = time.perf_counter()
    summary = train_recipe(recipe, tmp / f"{abs(hash((name, tuple(overrides), seed, stats)))}", progress=False,
                           callbacks=callbacks, overwrite=True)
    wall = time.perf_counter() - wall
    return {"seed": seed, "test_accuracy": summary["test_accuracy"], "wall_seconds": wall,
            "step_ms": 1000 * clock.seconds / clock.steps if clock.steps else None}


class Window(Callback):
    """Wall time from the end of step `start` to the end of the run."""

    def __init__(self, start: int):
        self.start_step, self.t0, self.ms = start, None, None

    def on_batch_end(self, state) -> None:
        if state.step == self.start_step:
            self.t0 = time.perf_counter()

    def on_fit_end(self, state) -> None:
        self.ms = 1000 * (time.perf_counter() - self.t0) / (state.step - self.start_step)


def steady_speed(repeats: int, steps: int) -> dict:
    from trainwell.assemble.run import from_recipe

    times = {v: [] for v in SPEED}
    for rep in range(repeats):
        for variant, overrides in SPEED.items():
            recipe = load_recipe("default", [*overrides, f"train.steps={steps}", "train.eval_every=28", f"seed={rep}"])
            window = Window(60)
            callbacks = [window] + ([StatsCallback(every=10)] if "stats" in variant else [])
            from_recipe(recipe, callbacks=callbacks).fit()
            times[variant].append(window.ms)
        print(f"  repeat {rep}: " + ", ".join(f"{v} {t[-1]:.1f} ms" for v, t in times.items()), flush=True)
    base = times["fp32 eager"]
    table = {v: {"median_step_ms": statistics.median(t),
                 "speedup_vs_fp32_eager": statistics.median(b / x for b, x in zip(base, t)),
                 "speedup_quartiles": statistics.quantiles([b / x for b, x in zip(base, t)], n=4) if len(t) > 1 else None}
             for v, t in times.items()}
    return {"repeats": repeats, "steps": steps, "ms": times, "table": table}


def speed(seeds: list[int], tmp: Path) -> dict:
    rows = {v: [] for v in SPEED}
    for seed in seeds:
        for variant, overrides in SPEED.items():
            row = run_once("default", overrides, seed, tmp, stats="stats" in variant)
            rows[variant].append(row)
            print(f"  seed {seed} {variant:<24} test {100 * row['test_accuracy']:.2f}%  wall {row['wall_seconds']:6.1f} s"
                  f"  steady {row['step_ms']:.2f} ms/step", flush=True)
    base = rows["fp32 eager"]
    table = {}
    for variant, rs in rows.items():
        table[variant] = {
            "median_test_accuracy": statistics.median(r["test_accuracy"] for r in rs),
            "median_wall_seconds": statistics.median(r["wall_seconds"] for r in rs),
            "median_step_ms": statistics.median(r["step_ms"] for r in rs),
            "steady_speedup_vs_fp32_eager": statistics.median(b["step_ms"] / r["step_ms"] for b, r in zip(base, rs)),
            "wall_speedup_vs_fp32_eager": statistics.median(b["wall_seconds"] / r["wall_seconds"] for b, r in zip(base, rs)),
        }
    return {"rows": rows, "table": table}


def accumulate(seeds: list[int], tmp: Path) -> dict:
    rows = {v: [] for v in ACCUMULATE}
    for seed in seeds:
        for variant, overrides in ACCUMULATE.items():
            row = run_once("search_mnist1d_mlp", [*overrides, "train.steps=1500"], seed, tmp, stats=False)
            rows[variant].append(row)
            print(f"  seed {seed} {variant:<24} test {100 * row['test_accuracy']:.2f}%", flush=True)
    big = [r["test_accuracy"] for r in rows["batch 128"]]
    acc = [r["test_accuracy"] for r in rows["batch 32 x accumulate 4"]]
    return {"rows": rows, "median_batch128": statistics.median(big), "median_accumulate": statistics.median(acc),
            "seed_std_batch128": statistics.stdev(big) if len(big) > 1 else None,
            "max_abs_paired_difference": max(abs(a - b) for a, b in zip(acc, big))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", choices=["speed", "accuracy", "accumulate"])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--speed-steps", type=int, default=200)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "engine_options.json")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    result = {"bench": "engine_options", "threads": args.threads, "seeds": args.seeds, "torch": torch.__version__,
              "machine": platform.processor() or platform.machine()}
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "speed"):
            print(f"speed: the default recipe, five variants, {args.repeats} interleaved repeats", flush=True)
            sp = result["steady"] = steady_speed(args.repeats, args.speed_steps)
            print(f"{'variant':<26}{'ms/step':>9}{'speed-up':>10}  quartiles")
            for variant, t in sp["table"].items():
                q = t["speedup_quartiles"]
                print(f"{variant:<26}{t['median_step_ms']:>9.2f}{t['speedup_vs_fp32_eager']:>9.2f}x  "
                      + (f"{q[0]:.2f}-{q[2]:.2f}" if q else ""))
        if args.only in (None, "accuracy"):
            print("accuracy: the default recipe trained to the end, five variants", flush=True)
            result["speed"] = speed(args.seeds, Path(tmp))
            print(f"{'variant':<26}{'test acc':>9}{'wall s':>8}{'wall x':>8}")
            for variant, t in result["speed"]["table"].items():
                print(f"{variant:<26}{100 * t['median_test_accuracy']:>8.2f}%{t['median_wall_seconds']:>8.1f}"
                      f"{t['wall_speedup_vs_fp32_eager']:>7.2f}x")
        if args.only in (None, "accumulate"):
            print("accumulate: MNIST-1D MLP, 1500 optimizer steps", flush=True)
            a = result["accumulate"] = accumulate(args.seeds, Path(tmp))
            print(f"median test accuracy: batch 128 {100 * a['median_batch128']:.2f}%, 32 x 4 "
                  f"{100 * a['median_accumulate']:.2f}%; largest paired difference "
                  f"{100 * a['max_abs_paired_difference']:.2f} points; seed std (batch 128) "
                  f"{100 * (a['seed_std_batch128'] or 0):.2f} points")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
