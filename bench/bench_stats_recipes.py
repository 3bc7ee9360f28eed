"""Per-layer statistics on the recipe models: every step, with statistics vs none.

For each recipe (default: the default 1-D ConvNet, the resnet recipe, the channels_last digits
ConvNet), one model and optimizer (Adam 1e-3, the recipe's batch size) train in chunks of
`--steps` hand-loop steps: no statistics and `LayerStats(every=1)`, interleaved per repeat.
Reported: the median over repeats of the paired ratio to the no-statistics chunk, minus 1 (the
every-step overhead; every-10 is about a tenth of it plus the hook registration).

    taskset -c 0,1 .venv/bin/python bench/bench_stats_recipes.py [--threads 2] [--repeats 15] [--steps 20]

Writes bench/results/stats_recipes.json.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from trainwell.config import load_recipe
from trainwell.diagnostics.capture import LayerStats
from trainwell.assemble.run import from_recipe

RECIPES = ["default", "resnet_mnist1d", "digits"]


def chunk(model, opt, x, y, batch, stats, steps) -> float:
    """Wall seconds per step of `steps` hand-loop steps (every step captured when `stats`)."""
    t0 = time.perf_counter()
    for i in range(steps):
        j = (i * batch) % (len(x) - batch)
        if stats is not None:
            stats.start(i)
        loss = nn.functional.cross_entropy(model(x[j:j + batch]), y[j:j + batch])
        opt.zero_grad()
        loss.backward()
        if stats is not None:
            stats.after_backward()
        opt.step()
        if stats is not None:
            stats.finish(keep_hooks=True)
    return (time.perf_counter() - t0) / steps


def measure(recipe_path: str, threads: int, repeats: int, steps: int) -> dict:
    recipe = load_recipe(recipe_path)
    prepared = from_recipe(recipe)
    torch.set_num_threads(threads)
    (x, y), model = prepared.data.train, prepared.model
    batch = recipe.train.batch_size
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    paths = {"none": None, "stats": LayerStats(model, every=1)}
    for stats in paths.values():
        chunk(model, opt, x, y, batch, stats, 3)  # warm-up (layouts, allocator)
    times: dict[str, list[float]] = {name: [] for name in paths}
    for r in range(repeats):
        for name in (list(paths) if r % 2 == 0 else list(paths)[::-1]):
            times[name].append(chunk(model, opt, x, y, batch, paths[name], steps))
    for stats in paths.values():
        if stats is not None:
            stats.close()
    return {"recipe": recipe_path, "batch": batch, "threads": threads,
            "step_ms": 1e3 * statistics.median(times["none"]),
            "overhead": statistics.median(a / b for a, b in zip(times["stats"], times["none"])) - 1}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipes", nargs="+", default=RECIPES)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "stats_recipes.json"))
    args = ap.parse_args()
    rows = []
    print(f"{'recipe':32s} {'batch':>5} {'step ms':>8} {'stats':>8}   (every step, {args.threads} threads)")
    for recipe in args.recipes:
        row = measure(recipe, args.threads, args.repeats, args.steps)
        rows.append(row)
        print(f"{recipe:32s} {row['batch']:5d} {row['step_ms']:8.2f} {row['overhead']:+8.1%}", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"repeats": args.repeats, "steps": args.steps, "rows": rows}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
