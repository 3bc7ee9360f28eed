"""Instructions per sampled step of the per-layer statistics, counted by callgrind (deterministic).

Wall-time ratios on a shared machine move by several points between runs; the number of executed
instructions does not. This script runs the MNIST-1D paper CNN of bench_stats_overhead.py (Adam,
batch 100, 1 thread) and, with callgrind's instrumentation switched on only around the measured
steps, counts N unsampled and N sampled steps in two settings:

* hooks kept   — `finish(keep_hooks=True)`, as StatsCallback does when every step is sampled; the
                 unsampled steps then run with the idle hooks too;
* hooks per step — the hooks registered by `start()` and removed by `finish()`, as at every 10
                 steps; the unsampled steps run the bare model.

It prints the extra instructions per sampled step and the instructions of an unsampled step.
Run it under valgrind (a few minutes: python and torch start up under the emulator):

    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/stats.cg \\
        .venv/bin/python bench/bench_stats_instructions.py --out-file /tmp/stats.cg [--steps 10]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_stats_overhead import load_data, paper_cnn  # noqa: E402

from trainwell.diagnostics.capture import LayerStats  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-file", required=True, help="the --callgrind-out-file given to valgrind")
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()
    if shutil.which("callgrind_control") is None or not _under_valgrind():
        print("run this script under valgrind --tool=callgrind --instr-atstart=no (see its docstring)", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    x, y, _ = load_data(torch.device("cpu"))
    torch.manual_seed(0)
    model = paper_cnn()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    stats = LayerStats(model, every=1)
    pid = str(os.getpid())

    def control(*flags: str) -> None:
        subprocess.run(["callgrind_control", *flags, pid], check=True, capture_output=True)

    def run(n: int, sampled: bool, keep: bool, start: int) -> None:
        for i in range(start, start + n):
            j = i % 40
            xb, yb = x[j * 100:(j + 1) * 100], y[j * 100:(j + 1) * 100]
            if sampled:
                stats.start(i)
            loss = nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if sampled:
                stats.after_backward()
            opt.step()
            if sampled:
                stats.finish(keep_hooks=keep)

    counts = {}
    step = 100
    for keep in (False, True):
        run(5, True, keep, step)  # warm-up (layouts, allocator); with keep the hooks stay, idle
        run(5, False, keep, step + 5)
        step += 10
        for sampled in (False, True):
            label = f"{'kept' if keep else 'per_step'}_{'sampled' if sampled else 'unsampled'}"
            control("-z")
            control("-i", "on")
            run(args.steps, sampled, keep, step)
            control("-i", "off")
            control("-d", label)
            step += args.steps
            counts[label] = _last_dump_total(Path(args.out_file), label)
        stats.cancel()
    n = args.steps
    print(f"paper CNN, batch 100, 1 thread, {n} steps each (instructions, callgrind)")
    print(f"  an unsampled step: {counts['per_step_unsampled'] / n / 1e6:.2f} M")
    for mode, what, every in (("per_step", "every 10 steps (hooks registered for each capture)", 10),
                              ("kept", "every step (hooks kept between captures)", 1)):
        step = counts[f"{mode}_unsampled"] / n
        extra = counts[f"{mode}_sampled"] / n - step
        print(f"  {what}: +{extra / 1e6:.2f} M per sampled step, {extra / (every * step):+.1%} of the run")
    return 0


def _under_valgrind() -> bool:
    """True inside valgrind (its preload library is mapped into the process)."""
    try:
        return "vgpreload" in Path("/proc/self/maps").read_text()
    except OSError:
        return False


def _last_dump_total(base: Path, label: str) -> int:
    """The instruction total of the dump triggered with `label` (callgrind writes base.1, base.2, …)."""
    for path in sorted(base.parent.glob(base.name + ".*"), key=lambda p: p.stat().st_mtime, reverse=True):
        text = path.read_text(errors="replace")
        if f"Trigger: dump {label}" in text:
            return next(int(line.split()[1]) for line in text.splitlines() if line.startswith("totals:"))
    raise RuntimeError(f"no callgrind dump named {label} next to {base}")


if __name__ == "__main__":
    sys.exit(main())
