"""CPU inference time of ConvNets with BatchNorm after every conv: unfolded vs `fold_batchnorm`.

Models (every case is reported, met or not):
* image ConvNet: 4 blocks of Conv2d 3×3 (pad 1, bias=False) → BatchNorm2d → ReLU, widths 32, 64,
  128, 128, a 2×2 max-pool after blocks 1–3, global average pooling, Linear(128, 10);
* MobileNet-style ConvNet (Howard et al. 2017): Conv2d 3×3 (32) → BN → ReLU, then 5
  depthwise-separable blocks [depthwise 3×3 → BN → ReLU, pointwise 1×1 → BN → ReLU] with widths
  64, 128 (stride 2), 128, 256 (stride 2), 256, global average pooling, Linear(256, 10) — 11 BNs;
  both 2-D models on a batch of 64 images 3×32×32, in the default (NCHW, "contiguous") memory
  format and in channels_last (model and input converted, on BOTH sides: the faster layout for
  2-D convs on the CPU, which a user after speed would pick anyway);
* the default recipe's 1-D ConvNet (recipes/default.toml: 5 convs, each → BatchNorm1d → GELU) and
  the resnet recipe's 1-D ResNet (recipes/resnet_mnist1d.toml: 15 BNs, incl. the projection
  shortcuts) on MNIST-1D-shaped input 1×40, at trainwell's evaluation batch (1000) and at 64.

Every BatchNorm gets random running statistics and γ, β, so the comparison is also a
correctness check (relative difference of the outputs). Both models run under
torch.inference_mode with the same activations (ReLU(inplace=True) where the model has it),
alternating in one process (warm-up first, the order flips every repeat); we report the median
time of each over the repeats and the ratio unfolded / folded.

"BN share" is the fraction of the unfolded forward's operator time spent in BatchNorm
(torch.profiler, self CPU time of the batch_norm ops over all ops). Removing that work alone
bounds the speed-up by 1/(1 − share); folding also saves allocating and writing one output tensor
per BatchNorm, so measured ratios can come out slightly above that bound. The gain follows the
share: large next to cheap depthwise/1×1 convs (MobileNet) and in channels_last, where the
convolutions and pooling get faster but BatchNorm does not; small next to 3×3 convolutions in
NCHW, where max-pooling and the convs dominate.

Not in `fold_batchnorm`, measured once on the same machine with an exploration script (1
thread): dropping the Identity modules left by folding, and running the activation after a folded
conv in place, changed the folded time by −3 % to +3 % (within noise) on the image ConvNet (NCHW) and the
default 1-D ConvNet (batch 1000 and 64), so neither is done (not measured on the other models).

Allocator (`--malloc`): with glibc's default settings, tensors of a few MB are returned to the
OS when freed and page-faulted in again on the next forward (~25 000 minor faults per forward
of the 1-D ConvNet at batch 1000). That costs both sides a lot and makes the ratio swing from
run to run (0.86×–1.31× for the same case, same machine). `--malloc retain` calls glibc's
mallopt (M_MMAP_THRESHOLD 32 MiB, M_TRIM_THRESHOLD 1 GiB) before anything is allocated, so freed
memory is reused without faults — as a long-running inference server would keep it (or with
jemalloc/tcmalloc). Both sides run under the same setting; the retained numbers are the stable
measure of the folding itself, the default ones what a plain `python` process gets.

    taskset -c 0 python bench/bench_fold_bn.py --threads 1    # 30 repeats
    taskset -c 0 python bench/bench_fold_bn.py --threads 1 --malloc retain
    python bench/bench_fold_bn.py --repeats 10 --threads 2

Writes bench/results/fold_bn.json (fold_bn_retain.json with --malloc retain).
"""
from __future__ import annotations

import argparse
import copy
import ctypes
import json
import platform
import statistics
import time
from pathlib import Path

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile

from trainwell.nn import count_batchnorms, fold_batchnorm, initialize

WIDTHS = (32, 64, 128, 128)
MOBILE = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1))
RECIPES = Path(__file__).resolve().parent.parent / "trainwell" / "recipes"


def random_bn_(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """Non-trivial eval statistics and γ, β for every BatchNorm; returns the model in eval mode."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=generator) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=generator) + 0.5)
                m.weight.copy_(torch.rand(c, generator=generator) + 0.5)
                m.bias.copy_(torch.randn(c, generator=generator) * 0.1)
    return model.eval()


def conv_bn_relu(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=False),
            nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


def convnet(generator: torch.Generator) -> nn.Sequential:
    layers: list[nn.Module] = []
    cin = 3
    for i, w in enumerate(WIDTHS):
        layers += conv_bn_relu(cin, w, 3)
        if i < len(WIDTHS) - 1:
            layers.append(nn.MaxPool2d(2))
        cin = w
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 10)]
    model = nn.Sequential(*layers)
    initialize(model, "kaiming", generator=generator)
    return random_bn_(model, generator)


def mobilenet(generator: torch.Generator) -> nn.Sequential:
    layers = conv_bn_relu(3, 32, 3)
    cin = 32
    for w, stride in MOBILE:
        layers += conv_bn_relu(cin, cin, 3, stride, groups=cin) + conv_bn_relu(cin, w, 1)
        cin = w
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 10)]
    model = nn.Sequential(*layers)
    initialize(model, "kaiming", generator=generator)
    return random_bn_(model, generator)


def recipe_model(name: str, generator: torch.Generator) -> nn.Module:
    """The model of recipes/<name>.toml for MNIST-1D (1×40, 10 classes)."""
    from trainwell.config import load_recipe
    from trainwell.models import build_model

    recipe = load_recipe(RECIPES / f"{name}.toml")
    return random_bn_(build_model(recipe.model, (1, 40), 10, generator), generator)


def time_once(model: nn.Module, x: torch.Tensor) -> float:
    start = time.perf_counter()
    model(x)
    return time.perf_counter() - start


def bn_share(model: nn.Module, x: torch.Tensor, passes: int = 5) -> float:
    """Fraction of the operator (self CPU) time of `model(x)` spent in batch_norm ops."""
    with torch.inference_mode():
        model(x)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(passes):
                model(x)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    return sum(e.self_cpu_time_total for e in events if "batch_norm" in e.key) / total


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
    share = bn_share(model, x)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"batchnorms": count_batchnorms(model), "median_s": med, "min_s": {k: min(v) for k, v in times.items()},
            "speedup": med["unfolded"] / med["folded"], "bn_share": share, "bound": 1.0 / (1.0 - share),
            "relative_output_difference": rel}


def channels_last(model: nn.Module, x: torch.Tensor) -> tuple[nn.Module, torch.Tensor]:
    return copy.deepcopy(model).to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)


def retain_freed_memory() -> None:
    """glibc: keep freed blocks up to 32 MiB in the heap and never trim it below 1 GiB."""
    libc = ctypes.CDLL("libc.so.6")
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    if not (libc.mallopt(m_mmap_threshold, 32 << 20) and libc.mallopt(m_trim_threshold, 1 << 30)):
        raise SystemExit("--malloc retain: mallopt refused the settings (not glibc?)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--malloc", choices=("default", "retain"), default="default",
                        help="glibc allocator settings for both sides (see the module doc)")
    parser.add_argument("--out", type=Path, default=None, help="default bench/results/fold_bn[_retain].json")
    args = parser.parse_args()
    if args.malloc == "retain":
        retain_freed_memory()
    if args.out is None:
        suffix = "_retain" if args.malloc == "retain" else ""
        args.out = Path(__file__).parent / "results" / f"fold_bn{suffix}.json"
    if args.threads:
        torch.set_num_threads(args.threads)

    g = torch.Generator().manual_seed(0)
    image, mobile = convnet(g), mobilenet(g)
    signal, res = recipe_model("default", g), recipe_model("resnet_mnist1d", g)
    x_img, x_1000, x_64 = torch.randn(64, 3, 32, 32, generator=g), torch.randn(1000, 1, 40, generator=g), torch.randn(64, 1, 40, generator=g)
    cases = [
        ("image ConvNet 2-D", "NCHW", image, x_img),
        ("image ConvNet 2-D", "chan_last", *channels_last(image, x_img)),
        ("MobileNet-style 2-D", "NCHW", mobile, x_img),
        ("MobileNet-style 2-D", "chan_last", *channels_last(mobile, x_img)),
        ("default 1-D ConvNet", "NCL", signal, x_1000),
        ("default 1-D ConvNet", "NCL", signal, x_64),
        ("resnet 1-D (recipe)", "NCL", res, x_1000),
        ("resnet 1-D (recipe)", "NCL", res, x_64),
    ]
    print(f"{torch.get_num_threads()} threads, {args.repeats} repeats (median ms), malloc {args.malloc}")
    print(f"{'model':<20} {'layout':<9} {'batch':>5} {'BNs':>4} {'unfolded':>9} {'folded':>8} {'speed-up':>9} "
          f"{'BN share':>9} {'bound':>6} {'≥1.2×':>6} {'rel diff':>9}")
    rows = []
    for name, layout, model, x in cases:
        r = measure(model, x, args.repeats)
        rows.append({"model": name, "layout": layout, "batch": len(x), "input": list(x.shape[1:]), **r,
                     "meets_1_2x": r["speedup"] >= 1.2})
        print(f"{name:<20} {layout:<9} {len(x):>5} {r['batchnorms']:>4} {1e3 * r['median_s']['unfolded']:>9.2f} "
              f"{1e3 * r['median_s']['folded']:>8.2f} {r['speedup']:>8.2f}x {100 * r['bn_share']:>8.1f}% "
              f"{r['bound']:>5.2f}x {'yes' if r['speedup'] >= 1.2 else 'no':>6} {r['relative_output_difference']:>9.1e}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": "fold_bn",
        "threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "malloc": args.malloc,
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
