"""CPU inference time of ConvNets with BatchNorm after every conv: unfolded vs `fold_batchnorm`.

Two models, every case reported:
* image ConvNet: 4 blocks of Conv2d 3×3 (pad 1, bias=False) → BatchNorm2d → ReLU, widths 32, 64,
  128, 128, a 2×2 max-pool after blocks 1–3, global average pooling, Linear(128, 10); a batch of
  64 images 3×32×32;
* the default recipe's 1-D ConvNet (recipes/default.toml: 5 convs, each → BatchNorm1d → GELU) on
  MNIST-1D-shaped input 1×40, at trainwell's evaluation batch (1000) and at batch 64.
The gain is the share of time BatchNorm took: large on short 1-D signals in big batches, small
next to 3×3 image convolutions. The BatchNorms get non-trivial running statistics so the
comparison is also a correctness check (relative difference of the outputs). Both models run
under torch.inference_mode, alternating in one process (warm-up first); we report the median time
of each over the repeats and the ratio unfolded / folded.

    python bench/bench_fold_bn.py                # 30 repeats
    python bench/bench_fold_bn.py --repeats 10 --threads 1

Writes bench/results/fold_bn.json.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from trainwell.nn import count_batchnorms, fold_batchnorm, initialize

WIDTHS = (32, 64, 128, 128)


def convnet(generator: torch.Generator) -> nn.Sequential:
    layers: list[nn.Module] = []
    cin = 3
    for i, w in enumerate(WIDTHS):
        layers += [nn.Conv2d(cin, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
        if i < len(WIDTHS) - 1:
            layers.append(nn.MaxPool2d(2))
        cin = w
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 10)]
    model = nn.Sequential(*layers)
    initialize(model, "kaiming", generator=generator)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=generator) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=generator) + 0.5)
                m.weight.copy_(torch.rand(c, generator=generator) + 0.5)
                m.bias.copy_(torch.randn(c, generator=generator) * 0.1)
    return model.eval()


def time_once(model: nn.Module, x: torch.Tensor) -> float:
    start = time.perf_counter()
    model(x)
    return time.perf_counter() - start


def default_recipe_convnet(generator: torch.Generator) -> nn.Module:
    """The model of recipes/default.toml, with BatchNorm statistics from a few training batches."""
    from trainwell.config import load_recipe
    from trainwell.models import build_model

    recipe = load_recipe(Path(__file__).resolve().parent.parent / "recipes" / "default.toml")
    model = build_model(recipe.model, (1, 40), 10, generator)
    with torch.no_grad():
        model.train()
        for _ in range(5):
            model(torch.randn(256, 1, 40, generator=generator))
    return model.eval()


def measure(model: nn.Module, x: torch.Tensor, repeats: int) -> dict:
    folded = fold_batchnorm(model)
    with torch.inference_mode():
        ref, out = model(x), folded(x)
        rel = ((out - ref).norm() / ref.norm()).item()
        for _ in range(3):  # warm-up
            model(x), folded(x)
        times: dict[str, list[float]] = {"unfolded": [], "folded": []}
        for i in range(repeats):
            pair = [("unfolded", model), ("folded", folded)]
            for name, m in pair if i % 2 == 0 else pair[::-1]:
                times[name].append(time_once(m, x))
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"batchnorms": count_batchnorms(model), "median_s": med, "min_s": {k: min(v) for k, v in times.items()},
            "speedup": med["unfolded"] / med["folded"], "relative_output_difference": rel}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "fold_bn.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    g = torch.Generator().manual_seed(0)
    image, signal = convnet(g), default_recipe_convnet(g)
    cases = [
        ("image ConvNet 2-D", image, torch.randn(64, 3, 32, 32, generator=g)),
        ("default 1-D ConvNet", signal, torch.randn(1000, 1, 40, generator=g)),
        ("default 1-D ConvNet", signal, torch.randn(64, 1, 40, generator=g)),
    ]
    print(f"{torch.get_num_threads()} threads, {args.repeats} repeats (median ms)")
    print(f"{'model':<20} {'batch':>6} {'BNs':>4} {'unfolded':>9} {'folded':>8} {'speed-up':>9} {'rel diff':>9}")
    rows = []
    for name, model, x in cases:
        r = measure(model, x, args.repeats)
        rows.append({"model": name, "batch": len(x), "input": list(x.shape[1:]), **r})
        print(f"{name:<20} {len(x):>6} {r['batchnorms']:>4} {1e3 * r['median_s']['unfolded']:>9.2f} "
              f"{1e3 * r['median_s']['folded']:>8.2f} {r['speedup']:>8.2f}x {r['relative_output_difference']:>9.1e}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": "fold_bn",
        "threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "rows": rows,
        "best_speedup": max(r["speedup"] for r in rows),
        "torch": torch.__version__,
        "machine": platform.machine(),
        "processor": platform.processor(),
    }
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
