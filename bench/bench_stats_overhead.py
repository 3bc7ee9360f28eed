"""Overhead of per-layer statistics (StatsCallback) on the MNIST-1D paper CNN.

Model (Greydanus 2020): Conv1d 1→25 k5 s2 p1, ReLU, Conv1d 25→25 k3 s2 p1, ReLU,
Conv1d 25→25 k3 s2 p1, ReLU, Flatten, Linear 125→10. Adam lr 1e-2, batch 100, data pre-loaded.

Three variants run side by side in one process, interleaved per repeat (so drift of a shared
machine hits all of them alike): (a) no stats, (b) `StatsCallback(every=10, bins=40)`,
(c) `StatsCallback(every=1, bins=40)`. Each repeat times `--steps` steps of a plain hand-written
loop (forward, backward, Adam step) that fires the Trainer's callback events in the Trainer's
order (on_batch_start, on_after_backward, on_batch_end) — not the Trainer itself, whose own
logging would dilute the ratio. The table shows the median wall time per step, the median
process CPU time per step (`time.process_time`, robust to a shared machine's descheduling) and
the slowdown of each against (a). Bars: every-10 ≤ 5 % slower, every-step ≤ 35 % slower (wall).

A second table splits one sampled step into phases (hook registration, forward, backward,
after_backward, optimizer step, finish = reductions + transfer + record), sampled minus
unsampled, CPU time — where the extra time goes.

    taskset -c 0 .venv/bin/python bench/bench_stats_overhead.py [--steps 200] [--repeats 7] [--threads 1] [--device cpu]

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


def run(model, opt, cb, state, x, y, steps, batch, device) -> tuple[float, float]:
    """(wall, CPU) seconds per step over `steps` steps."""
    n = len(x) // batch
    loss_fn = nn.functional.cross_entropy
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0, c0 = time.perf_counter(), time.process_time()
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
    return (time.perf_counter() - t0) / steps, (time.process_time() - c0) / steps


def phases(model, opt, x, y, batch, device, steps: int = 200) -> dict[str, float]:
    """Mean CPU seconds per phase, sampled step minus unsampled step (interleaved pairs)."""
    from trainwell.diagnostics.capture import LayerStats

    stats = LayerStats(model, every=1, bins=40)
    loss_fn = nn.functional.cross_entropy
    names = ("start", "forward", "backward", "after_backward", "optimizer", "finish")
    sums = {True: [0.0] * 6, False: [0.0] * 6}
    clock = time.process_time
    n = len(x) // batch
    for i in range(steps + 20):
        for sampled in (False, True):
            j = i % n
            xb, yb = x[j * batch:(j + 1) * batch], y[j * batch:(j + 1) * batch]
            t = [clock()]
            if sampled:
                stats.start(i)
            t.append(clock())
            loss = loss_fn(model(xb), yb)
            t.append(clock())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            t.append(clock())
            if sampled:
                stats.after_backward()
            t.append(clock())
            opt.step()
            t.append(clock())
            if sampled:
                stats.finish()
            if device.type == "cuda":
                torch.cuda.synchronize()
            t.append(clock())
            if i >= 20:
                for k in range(6):
                    sums[sampled][k] += t[k + 1] - t[k]
    stats.close()
    return {name: (sums[True][k] - sums[False][k]) / steps for k, name in enumerate(names)}


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
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, (model, opt, cb, state) in setups.items():
            wall, proc = run(model, opt, cb, state, x, y, args.steps, args.batch, device)
            times[name].append(wall)
            cpu[name].append(proc)
    med = {name: statistics.median(t) for name, t in times.items()}
    med_cpu = {name: statistics.median(t) for name, t in cpu.items()}
    slow = {name: med[name] / med["none"] - 1 for name in variants if name != "none"}
    slow_cpu = {name: med_cpu[name] / med_cpu["none"] - 1 for name in variants if name != "none"}
    records = {name: len(s[3].records.get("stats", [])) for name, s in setups.items()}
    print(f"device={device} threads={args.threads} data={source} steps={args.steps} repeats={args.repeats}")
    print(f"{'variant':>9} {'wall ms/step':>13} {'slowdown':>9} {'cpu ms/step':>12} {'slowdown':>9} {'bar':>6} {'records':>8}")
    for name in variants:
        bar = BARS.get(name)
        s = f"{slow[name]:+.1%}" if name in slow else "—"
        sc = f"{slow_cpu[name]:+.1%}" if name in slow_cpu else "—"
        b = f"≤{bar:.0%}" if bar is not None else ""
        ok = "" if bar is None else ("ok" if slow[name] <= bar else "MISSED")
        print(f"{name:>9} {med[name] * 1e3:13.3f} {s:>9} {med_cpu[name] * 1e3:12.3f} {sc:>9} {b:>6} {records[name]:8d} {ok}")
    model, opt = copy.deepcopy(base), None
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    split = phases(model, opt, x, y, args.batch, device)
    print("extra CPU per sampled step, by phase (sampled − unsampled): "
          + ", ".join(f"{k} {v * 1e6:+.0f} µs" for k, v in split.items()) + f"; total {sum(split.values()) * 1e6:.0f} µs")
    result = {
        "device": str(device), "threads": args.threads, "data": source, "steps": args.steps,
        "repeats": args.repeats, "batch": args.batch, "torch": torch.__version__, "python": platform.python_version(),
        "loop": "hand-written loop firing StatsCallback's Trainer events; variants interleaved per repeat",
        "seconds_per_step": times, "cpu_seconds_per_step": cpu,
        "median_seconds_per_step": med, "median_cpu_seconds_per_step": med_cpu,
        "slowdown": slow, "slowdown_cpu": slow_cpu, "bars": BARS,
        "met": {name: slow[name] <= BARS[name] for name in slow},
        "sampled_step_extra_cpu_seconds_by_phase": split,
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
