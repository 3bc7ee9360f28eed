"""Overhead of per-layer statistics (StatsCallback) on the MNIST-1D paper CNN.

Model (Greydanus 2020): Conv1d 1→25 k5 s2 p1, ReLU, Conv1d 25→25 k3 s2 p1, ReLU,
Conv1d 25→25 k3 s2 p1, ReLU, Flatten, Linear 125→10. Adam lr 1e-2, batch 100, data pre-loaded.

Three variants run side by side in one process, interleaved per repeat (so drift of a shared
machine hits all of them alike): (a) no stats, (b) stats every 10 steps, (c) stats every step.
Each repeat times `--steps` steps of a hand-written loop that fires the Trainer's events; the
table shows the median time per step and the slowdown against (a).
Bars: every-10 ≤ 5 % slower, every-step ≤ 35 % slower.

    .venv/bin/python bench/bench_stats_overhead.py [--steps 200] [--repeats 7] [--threads 1] [--device cpu]

Writes bench/results/stats_overhead.json.
"""
from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import time
from pathlib import Path
from types import SimpleNamespace

import torch
from torch import nn

from trainwell.diagnostics.callback import StatsCallback

BARS = {"every10": 0.05, "every1": 0.35}


def paper_cnn(channels: int = 25) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv1d(1, channels, 5, stride=2, padding=1), nn.ReLU(),
        nn.Conv1d(channels, channels, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv1d(channels, channels, 3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(channels * 5, 10),
    )


def load_data(device: torch.device) -> tuple[torch.Tensor, torch.Tensor, str]:
    try:
        from trainwell.data.sources import mnist1d

        x, y, _, _ = mnist1d()
        return torch.as_tensor(x, dtype=torch.float32, device=device), torch.as_tensor(y, device=device).long(), "mnist1d"
    except Exception:  # the timing does not depend on the values; keep the bench runnable
        g = torch.Generator().manual_seed(0)
        return torch.randn(4000, 1, 40, generator=g).to(device), torch.randint(0, 10, (4000,), generator=g).to(device), "random"


def state_for(model: nn.Module, opt: torch.optim.Optimizer, device: torch.device) -> SimpleNamespace:
    records: dict[str, list] = {}
    return SimpleNamespace(model=model, optimizer=opt, step=0, epoch=0, total_steps=0, loss=None, lr=1e-2,
                           device=device, run_dir=None, stop=False, stop_reason="", records=records,
                           emit=lambda stream, rec: records.setdefault(stream, []).append(rec))


def run(model, opt, cb, state, x, y, steps, batch, device) -> float:
    n = len(x) // batch
    loss_fn = nn.functional.cross_entropy
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        i = state.step % n
        xb, yb = x[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch]
        if cb is not None:
            cb.on_batch_start(state)
        loss = loss_fn(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cb is not None:
            cb.on_after_backward(state)
        opt.step()
        state.step += 1
        state.loss = loss.detach()
        if cb is not None:
            cb.on_batch_end(state)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "stats_overhead.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    x, y, source = load_data(device)
    torch.manual_seed(0)
    base = paper_cnn().to(device)
    variants = {"none": None, "every10": 10, "every1": 1}
    setups = {}
    for name, every in variants.items():
        model = copy.deepcopy(base)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        cb = None if every is None else StatsCallback(every=every, bins=40)
        state = state_for(model, opt, device)
        if cb is not None:
            cb.on_fit_start(state)
        run(model, opt, cb, state, x, y, 20, args.batch, device)  # warm-up
        setups[name] = (model, opt, cb, state)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, (model, opt, cb, state) in setups.items():
            times[name].append(run(model, opt, cb, state, x, y, args.steps, args.batch, device))
    med = {name: statistics.median(t) for name, t in times.items()}
    slow = {name: med[name] / med["none"] - 1 for name in variants if name != "none"}
    records = {name: len(s[3].records.get("stats", [])) for name, s in setups.items()}
    print(f"device={device} threads={args.threads} data={source} steps={args.steps} repeats={args.repeats}")
    print(f"{'variant':>9} {'median ms/step':>15} {'slowdown':>9} {'bar':>6} {'records':>8}")
    for name in variants:
        bar = BARS.get(name)
        s = f"{slow[name]:+.1%}" if name in slow else "—"
        b = f"≤{bar:.0%}" if bar is not None else ""
        ok = "" if bar is None else ("ok" if slow[name] <= bar else "MISSED")
        print(f"{name:>9} {med[name] * 1e3:15.3f} {s:>9} {b:>6} {records[name]:8d} {ok}")
    result = {
        "device": str(device), "threads": args.threads, "data": source, "steps": args.steps,
        "repeats": args.repeats, "batch": args.batch, "torch": torch.__version__, "python": platform.python_version(),
        "seconds_per_step": times, "median_seconds_per_step": med, "slowdown": slow, "bars": BARS,
        "met": {name: slow[name] <= BARS[name] for name in slow},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    for s in setups.values():
        if s[2] is not None:
            s[2].close()


if __name__ == "__main__":
    main()
