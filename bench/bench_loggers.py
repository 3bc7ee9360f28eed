"""What the loggers cost a training run: none vs CSV, TensorBoard, MLflow and all three at once.

The MNIST-1D paper CNN (5k parameters, where per-step overhead shows; Adam lr 1e-2, batch 100)
trains `--steps` steps with the Trainer's defaults — a metrics record every 20 steps, evaluation
every 100 steps, metrics.jsonl and checkpoints in a temporary run directory — once per variant:

    none         no logger (what a recipe without [log] runs: callbacks_for adds nothing)
    csv          CSVLogger
    tensorboard  TensorBoardLogger (scalars; weight histograms at the start and each evaluation)
    mlflow       MLflowLogger into a SQLite store created beforehand (creating one is timed apart)
    all          the three at once

Each fit starts from the same weights. The variants take turns within each repeat (interleaved,
so a shared machine's drift hits all alike); we report the median time per step and the median
over repeats of the paired ratio (variant / none, same repeat) of wall time and of this
process's CPU time (TensorBoard writes from a thread of its own: CPU time counts it). A second
table times the loggers' own events directly (a subclass adds up the time of each event): the
fixed cost per fit (open + close), per training record (on_log), per evaluation (on_eval_end),
and their sum per training step as a fraction of a step without loggers — the number that does
not drown in a shared machine's noise.

    taskset -c 1 python bench/bench_loggers.py [--steps 400] [--repeats 7]

Writes bench/results/loggers.json.
"""
from __future__ import annotations

import argparse
import copy
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from trainwell.data import BatchLoader, load_data
from trainwell.models import MODELS
from trainwell.train import Trainer, TrainerSettings
from trainwell.train.loggers import CSVLogger, MLflowLogger, TensorBoardLogger
from trainwell.train.loggers.mlflow_logger import default_uri

PAPER_CNN = {"name": "convnet", "channels": [25, 25, 25], "kernel": [5, 3, 3], "stride": 2, "padding": 1,
             "norm": "none", "head": "flatten", "init": "torch_default"}
VARIANTS = ("none", "csv", "tensorboard", "mlflow", "all")


def timed(cls):
    """`cls` with the time spent in each of its events added up in `seconds` (for this bench only)."""

    class Timed(cls):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            self.seconds = {"on_fit_start": 0.0, "on_log": 0.0, "on_eval_end": 0.0, "on_fit_end": 0.0}
            self.calls = dict.fromkeys(self.seconds, 0)

        def _time(self, event, *args):
            t0 = time.perf_counter()
            getattr(super(), event)(*args)
            self.seconds[event] += time.perf_counter() - t0
            self.calls[event] += 1

        def on_fit_start(self, state):
            self._time("on_fit_start", state)

        def on_log(self, state, record):
            self._time("on_log", state, record)

        def on_eval_end(self, state, metrics):
            self._time("on_eval_end", state, metrics)

        def on_fit_end(self, state):
            self._time("on_fit_end", state)

    Timed.__name__ = cls.__name__
    return Timed


def loggers(variant: str, uri: str) -> list:
    make = {"csv": lambda: timed(CSVLogger)(), "tensorboard": lambda: timed(TensorBoardLogger)(),
            "mlflow": lambda: timed(MLflowLogger)(uri, experiment="bench")}
    if variant == "none":
        return []
    if variant == "all":
        return [f() for f in make.values()]
    return [make[variant]()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_data("mnist1d", seed=0)
    model0 = MODELS.build(PAPER_CNN, input_shape=data.input_shape, num_classes=10,
                          generator=torch.Generator().manual_seed(0))
    root = Path(tempfile.mkdtemp(prefix="trainwell-bench-loggers-"))
    (root / "store").mkdir()
    uri = default_uri(root / "store")
    start = time.perf_counter()
    import mlflow

    mlflow.MlflowClient(uri).search_experiments()  # creates the store: MLflow's schema migrations
    store_seconds = time.perf_counter() - start

    wall: dict[str, list[float]] = {v: [] for v in VARIANTS}
    cpu: dict[str, list[float]] = {v: [] for v in VARIANTS}
    events: dict[str, list[dict]] = {v: [] for v in ("csv", "tensorboard", "mlflow")}
    for repeat in range(args.repeats + 1):  # repeat 0 warms up (imports, caches) and is dropped
        for variant in VARIANTS:
            model = copy.deepcopy(model0)
            source = BatchLoader(data.x_train, data.y_train, 100, generator=torch.Generator().manual_seed(1))
            settings = TrainerSettings(total_steps=args.steps, eval_every=100, log_every=20, seed=0,
                                       run_dir=root / f"{variant}-{repeat}")
            callbacks = loggers(variant, uri)
            trainer = Trainer(model, source, torch.optim.Adam(model.parameters(), lr=1e-2), settings,
                              loss=F.cross_entropy, val=(data.x_val, data.y_val), callbacks=callbacks)
            t0, c0 = time.perf_counter(), time.process_time()
            trainer.fit()
            if repeat:
                wall[variant].append((time.perf_counter() - t0) / args.steps)
                cpu[variant].append((time.process_time() - c0) / args.steps)
                if variant != "all":
                    for c in callbacks:
                        events[variant].append({e: (c.seconds[e], c.calls[e]) for e in c.seconds})

    rows = []
    print(f"{'variant':<12} {'ms/step':>8} {'wall ratio':>11} {'cpu ratio':>10}   (median of {args.repeats}, "
          f"{args.steps} steps, log every 20, eval every 100)")
    for variant in VARIANTS:
        w = statistics.median([a / b for a, b in zip(wall[variant], wall["none"])])
        c = statistics.median([a / b for a, b in zip(cpu[variant], cpu["none"])])
        ms = 1000 * statistics.median(wall[variant])
        rows.append({"variant": variant, "ms_per_step": ms, "wall_ratio": w, "cpu_ratio": c})
        print(f"{variant:<12} {ms:8.3f} {w:11.3f} {c:10.3f}")
    print(f"\ntime inside the logger's events (median over repeats), and per training step as a fraction of a step "
          f"without loggers ({1000 * statistics.median(wall['none']):.3f} ms):")
    print(f"{'logger':<12} {'open+close ms':>13} {'ms/record':>10} {'ms/eval':>8} {'per step':>9}")
    step = statistics.median(wall["none"])
    timings = []
    for variant, runs in events.items():
        def med(event, per_call):
            return statistics.median([r[event][0] / max(r[event][1], 1) if per_call else r[event][0] for r in runs])
        fixed = 1000 * (med("on_fit_start", False) + med("on_fit_end", False))
        record, evaluation = 1000 * med("on_log", True), 1000 * med("on_eval_end", True)
        per_step = statistics.median([(r["on_log"][0] + r["on_eval_end"][0]) / args.steps for r in runs]) / step
        timings.append({"logger": variant, "open_close_ms": fixed, "ms_per_record": record, "ms_per_eval": evaluation,
                        "per_step_fraction": per_step})
        print(f"{variant:<12} {fixed:13.1f} {record:10.3f} {evaluation:8.3f} {100 * per_step:8.2f}%")
    print(f"creating a new MLflow SQLite store (once per run directory by default): {store_seconds:.1f} s")
    out = Path(__file__).parent / "results" / "loggers.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"steps": args.steps, "repeats": args.repeats, "threads": args.threads, "rows": rows, "events": timings,
                               "mlflow_store_seconds": store_seconds}, indent=2))


if __name__ == "__main__":
    main()
