"""Batched augmentation vs the same transforms applied image by image in a Python loop.

Pipeline (a typical CIFAR-style recipe): HFlip(p=0.5) → RandomCrop(padding=4) →
ColorJitter(0.4, 0.4, 0.4, hue=0.1) → RandomAffine(degrees=10, translate=0.1, scale=(0.9, 1.1),
shear=5), on a batch of 512×3×32×32 float32 images. "batched" calls each transform once on the
whole batch; "loop" calls the very same transform objects on 512 one-image batches and
concatenates (what a per-example Dataset transform does). Both run in one process, interleaved
per repeat (warm-up first); the table shows the median and min time of each, per transform and
for the whole pipeline, and the ratio loop / batched (target ≥ 10× for the pipeline).

    .venv/bin/python bench/bench_augment.py [--repeats 7] [--batch 512] [--threads 1] [--device cpu]

Writes bench/results/augment.json.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from trainwell.augment import ColorJitter, Compose, HFlip, RandomAffine, RandomCrop


def pipeline_parts() -> list[tuple[str, object]]:
    parts = [
        ("hflip", HFlip(p=0.5)),
        ("random_crop", RandomCrop(padding=4)),
        ("color_jitter", ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)),
        ("affine", RandomAffine(degrees=10.0, translate=0.1, scale=(0.9, 1.1), shear=5.0)),
    ]
    return parts + [("pipeline", Compose([p for _, p in parts]))]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def batched(aug, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return aug(x, g)


def looped(aug, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return torch.cat([aug(x[i : i + 1], g) for i in range(x.shape[0])])


def time_once(fn, aug, x, g, device) -> float:
    sync(device)
    start = time.perf_counter()
    fn(aug, x, g)
    sync(device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "augment.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    g = torch.Generator(device=device).manual_seed(0)
    x = torch.rand(args.batch, 3, 32, 32, generator=g, device=device)
    parts = pipeline_parts()
    modes = (("batched", batched), ("loop", looped))

    with torch.no_grad():
        for _, aug in parts:  # warm-up
            for _, fn in modes:
                fn(aug, x[:64], g)
        times = {name: {m: [] for m, _ in modes} for name, _ in parts}
        for i in range(args.repeats):
            for name, aug in parts:
                order = modes if i % 2 == 0 else modes[::-1]
                for m, fn in order:
                    times[name][m].append(time_once(fn, aug, x, g, device))

    med = {n: {m: statistics.median(v) for m, v in t.items()} for n, t in times.items()}
    mins = {n: {m: min(v) for m, v in t.items()} for n, t in times.items()}
    ratio = {n: med[n]["loop"] / med[n]["batched"] for n in med}
    print(
        f"augment {args.batch}×3×32×32 float32 on {device}, {torch.get_num_threads()} threads, "
        f"{args.repeats} repeats (median / min ms)"
    )
    print(f"{'transform':<14} {'batched med':>12} {'batched min':>12} {'loop med':>10} {'loop min':>10} {'loop/batched':>13}")
    for n in med:
        print(
            f"{n:<14} {1e3 * med[n]['batched']:>12.2f} {1e3 * mins[n]['batched']:>12.2f} "
            f"{1e3 * med[n]['loop']:>10.1f} {1e3 * mins[n]['loop']:>10.1f} {ratio[n]:>12.1f}x"
        )
    verdict = "meets" if ratio["pipeline"] >= 10 else "MISSES"
    print(f"pipeline speed-up {ratio['pipeline']:.1f}x ({verdict} the 10x target)")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": "augment",
        "batch": [args.batch, 3, 32, 32],
        "pipeline": [repr(a) for n, a in parts if n != "pipeline"],
        "device": str(device),
        "threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "median_s": med,
        "min_s": mins,
        "speedup_loop_over_batched": ratio,
        "target": 10.0,
        "torch": torch.__version__,
        "machine": platform.machine(),
        "processor": platform.processor(),
    }
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
