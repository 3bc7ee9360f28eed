"""Overhead of per-layer statistics (StatsCallback) on the MNIST-1D paper CNN.

Model (Greydanus 2020): Conv1d 1→25 k5 s2 p1, ReLU, Conv1d 25→25 k3 s2 p1, ReLU,
Conv1d 25→25 k3 s2 p1, ReLU, Flatten, Linear 125→10. Adam lr 1e-2, batch 100, data pre-loaded.

Three variants: (a) no stats, (b) `StatsCallback(every=10)`, (c) `StatsCallback(every=1)`, with
the library defaults (40 bins, histogram sample of 1024 elements per layer). They train ONE
model and optimizer, taking turns in chunks of `--steps` steps, interleaved per repeat — so
drift of a shared machine and the memory layout of the model hit all of them alike. Two
measures, each reported as the median over repeats of the time per step, and the slowdown as
the median over repeats of the paired ratio (the variant's chunk against the no-stats chunk run
next to it) minus 1:

* **Trainer** — `Trainer.fit` on the model, a `BatchLoader` over MNIST-1D, no evaluation, no run
  directory, callbacks [] vs [StatsCallback].
* **hand loop** — stricter: a bare loop (forward, backward, Adam step) firing only the
  callback's events in the Trainer's order, so no Trainer work dilutes the ratio.

Bars: every-10 ≤ 3 % slower, every-step ≤ 15 % slower (Trainer, wall time, medians).
A last table splits one sampled step of the hand loop into phases (hook registration, forward,
backward, after_backward, optimizer step, finish = the transfer and the record), sampled minus
unsampled, CPU time — where the extra time goes.

    taskset -c 0 .venv/bin/python bench/bench_stats_overhead.py [--steps 100] [--repeats 41] [--threads 1]
        [--run-dir]

Writes bench/results/stats_overhead.json.
"""
from __future__ import annotations

import argparse
import copy
import json
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import torch
from torch import nn

from trainwell.diagnostics.callback import StatsCallback

BARS = {"every10": 0.03, "every1": 0.15}


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
    """A TrainState stand-in whose `emit` counts records instead of keeping them: the hand loops
    run for the whole benchmark, and thousands of kept records would make every garbage
    collection slower — in whichever variant it happens to run."""
    counts: dict[str, int] = {}

    def emit(stream: str, record: dict) -> None:
        counts[stream] = counts.get(stream, 0) + 1

    return SimpleNamespace(model=model, optimizer=opt, step=0, epoch=0, total_steps=0, loss=None, lr=1e-2,
                           device=device, run_dir=None, stop=False, stop_reason="", counts=counts, emit=emit)


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

    stats = LayerStats(model, every=1)
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


def trainer_fit(model, opt, x, y, steps, batch, every, device, run_root: Path | None = None) -> float:
    """Wall seconds per step of one `Trainer.fit` of `steps` steps (callbacks [] or [StatsCallback]);
    with `run_root`, in a fresh run directory under it (records written as JSON lines, no checkpoints)."""
    from trainwell.data.loader import BatchLoader
    from trainwell.train.settings import TrainerSettings
    from trainwell.train.trainer import Trainer

    loader = BatchLoader(x, y, batch, generator=torch.Generator().manual_seed(0))
    callbacks = [] if every is None else [StatsCallback(every=every)]
    run_dir = None if run_root is None else tempfile.mkdtemp(dir=run_root)
    settings = TrainerSettings(total_steps=steps, eval_every=10 * steps, run_dir=run_dir, checkpoint=False)
    trainer = Trainer(model, loader, opt, settings, callbacks=callbacks)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    state = trainer.fit()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - t0) / steps
    if every is not None:
        expected = len(range(0, steps, every))
        if run_dir is None:
            written = len(state.records.get("stats", []))
        else:
            written = len((Path(run_dir) / "stats.jsonl").read_text().splitlines())
            shutil.rmtree(run_dir)
        assert written == expected, "the callback did not record every sampled step"
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=41)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--run-dir", action="store_true",
                    help="Trainer.fit writes to a run directory (records as JSON lines, no checkpoints)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "stats_overhead.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    x, y, source = load_data(device)
    run_root = Path(tempfile.mkdtemp(prefix="bench-stats-")) if args.run_dir else None
    torch.manual_seed(0)
    model = paper_cnn().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    variants = {"none": None, "every10": 10, "every1": 1}
    callbacks = {name: None if every is None else StatsCallback(every=every)
                 for name, every in variants.items()}
    states = {name: state_for(model, opt, device) for name in variants}
    for name, cb in callbacks.items():
        if cb is not None:
            cb.on_fit_start(states[name])
        run(model, opt, cb, states[name], x, y, 20, args.batch, device)  # warm-up
        trainer_fit(model, opt, x, y, 20, args.batch, variants[name], device, run_root)
    loop: dict[str, list[float]] = {name: [] for name in variants}
    loop_cpu: dict[str, list[float]] = {name: [] for name in variants}
    fit: dict[str, list[float]] = {name: [] for name in variants}
    for r in range(args.repeats):
        order = list(variants) if r % 2 == 0 else list(variants)[::-1]
        for name in order:
            wall, proc = run(model, opt, callbacks[name], states[name], x, y, args.steps, args.batch, device)
            loop[name].append(wall)
            loop_cpu[name].append(proc)
            fit[name].append(trainer_fit(model, opt, x, y, args.steps, args.batch, variants[name], device, run_root))

    def summary(times: dict[str, list[float]]) -> tuple[dict[str, float], dict[str, float]]:
        """Median time per variant, and the median over repeats of the paired slowdown
        t_variant / t_none − 1 (each pair ran back to back: drift slower than a chunk cancels)."""
        med = {name: statistics.median(t) for name, t in times.items()}
        slow = {name: statistics.median(a / b for a, b in zip(times[name], times["none"])) - 1
                for name in variants if name != "none"}
        return med, slow

    med_fit, slow_fit = summary(fit)
    med_loop, slow_loop = summary(loop)
    med_cpu, slow_cpu = summary(loop_cpu)
    records = {name: s.counts.get("stats", 0) for name, s in states.items()}
    print(f"device={device} threads={args.threads} data={source} steps={args.steps} repeats={args.repeats} "
          f"batch={args.batch}" + (" Trainer run directory: yes" if args.run_dir else ""))
    print(f"{'variant':>9} {'Trainer ms/step':>16} {'slowdown':>9} {'bar':>5} {'':>6} "
          f"{'loop ms/step':>13} {'slowdown':>9} {'loop CPU':>9}")
    for name in variants:
        bar = BARS.get(name)
        ok = "" if bar is None else ("ok" if slow_fit[name] <= bar else "MISSED")
        sf = f"{slow_fit[name]:+.1%}" if name in slow_fit else "—"
        sl = f"{slow_loop[name]:+.1%}" if name in slow_loop else "—"
        sc = f"{slow_cpu[name]:+.1%}" if name in slow_cpu else "—"
        b = f"≤{bar:.0%}" if bar is not None else ""
        print(f"{name:>9} {med_fit[name] * 1e3:16.3f} {sf:>9} {b:>5} {ok:>6} {med_loop[name] * 1e3:13.3f} {sl:>9} {sc:>9}")
    probe = copy.deepcopy(model)
    split = phases(probe, torch.optim.Adam(probe.parameters(), lr=1e-2), x, y, args.batch, device)
    print("hand loop, extra CPU per sampled step by phase (sampled − unsampled): "
          + ", ".join(f"{k} {v * 1e6:+.0f} µs" for k, v in split.items()) + f"; total {sum(split.values()) * 1e6:.0f} µs")
    result = {
        "device": str(device), "threads": args.threads, "data": source, "steps": args.steps,
        "repeats": args.repeats, "batch": args.batch, "torch": torch.__version__, "python": platform.python_version(),
        "trainer_run_dir": args.run_dir,
        "design": "one model and optimizer; variants take turns in chunks of `steps` steps, interleaved per repeat",
        "trainer_seconds_per_step": fit, "loop_seconds_per_step": loop, "loop_cpu_seconds_per_step": loop_cpu,
        "median_trainer_seconds_per_step": med_fit, "median_loop_seconds_per_step": med_loop,
        "slowdown": slow_fit, "slowdown_loop": slow_loop, "slowdown_loop_cpu": slow_cpu, "bars": BARS,
        "met": {name: slow_fit[name] <= BARS[name] for name in slow_fit},
        "met_hand_loop": {name: slow_loop[name] <= BARS[name] for name in slow_loop},
        "records": records,
        "sampled_step_extra_cpu_seconds_by_phase": split,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    for cb in callbacks.values():
        if cb is not None:
            cb.close()
    if run_root is not None:
        shutil.rmtree(run_root, ignore_errors=True)


if __name__ == "__main__":
    main()
