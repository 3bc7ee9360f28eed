"""CPU inference time of a ConvNet with BatchNorm after every conv: unfolded vs `fold_batchnorm`.

Model: 4 blocks of Conv2d 3×3 (pad 1, bias=False) → BatchNorm2d → ReLU, widths 32, 64, 128, 128,
a 2×2 max-pool after blocks 1–3, then global average pooling and Linear(128, 10). Input: a batch
of 64 images 3×32×32. The BatchNorms get non-trivial running statistics so the comparison is also
a correctness check (relative difference of the outputs). Both models run under
torch.inference_mode, alternating in one process (warm-up first); we report the median time of
each over the repeats and the ratio unfolded / folded.

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "fold_bn.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    g = torch.Generator().manual_seed(0)
    model = convnet(g)
    folded = fold_batchnorm(model)
    x = torch.randn(args.batch, 3, 32, 32, generator=g)

    with torch.inference_mode():
        ref, out = model(x), folded(x)
        rel = ((out - ref).norm() / ref.norm()).item()
        for _ in range(3):  # warm-up
            model(x), folded(x)
        times: dict[str, list[float]] = {"unfolded": [], "folded": []}
        for i in range(args.repeats):
            pair = [("unfolded", model), ("folded", folded)]
            for name, m in pair if i % 2 == 0 else pair[::-1]:
                times[name].append(time_once(m, x))

    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["unfolded"] / med["folded"]
    print(f"ConvNet {WIDTHS}, batch {args.batch}×3×32×32, {torch.get_num_threads()} threads, {args.repeats} repeats")
    print(f"{'model':<10} {'BatchNorms':>10} {'median ms':>10} {'min ms':>8}")
    for name, m in (("unfolded", model), ("folded", folded)):
        print(f"{name:<10} {count_batchnorms(m):>10} {1e3 * med[name]:>10.2f} {1e3 * min(times[name]):>8.2f}")
    print(f"speed-up unfolded/folded: {ratio:.2f}x   output relative difference: {rel:.1e}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": "fold_bn",
        "model": {"widths": WIDTHS, "batch": args.batch, "input": [3, 32, 32]},
        "threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "median_s": med,
        "min_s": {k: min(v) for k, v in times.items()},
        "speedup": ratio,
        "relative_output_difference": rel,
        "torch": torch.__version__,
        "machine": platform.machine(),
        "processor": platform.processor(),
    }
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
