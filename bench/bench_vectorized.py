"""Where vectorizing pays: K trials as one batched model vs the same K trials one by one (Trainer).

The evidence behind `trainwell.vectorized.choose_engine`. For each architecture below and each K,
both paths train the same K trials (same recipe, seeds, batches, schedule, evaluation steps),
alternating in one process; the table shows the median speedup (one-by-one time / vectorized
time, wall clock; CPU seconds of this process in the JSON) and what `choose_engine` picks. Both
sides run torch with the same thread count (default 1, as a search worker does).

* one by one: `trainwell.assemble.from_recipe(...).fit()` per trial (the `trainwell train` loop,
  no run directory; what `train_members` runs one by one);
* vectorized: `trainwell.vectorized.train_many` with engine "auto" (on a CPU it flushes subnormal
  floats to zero while it trains; the Trainer does not — `compare(..., trainer_flush=True)` and
  bench_search_vectorized.py --trainer-flush give the Trainer the same).

Cases (MNIST-1D, 3,600 training examples): the paper MLP 40→100→100→10 at batch 100 (the search
recipe), a wider MLP 512-512 at batch 100, the paper MLP at batch 1000, the 1-D ConvNet of the
ensemble recipe at batch 128 (the "batched" engine), the paper MLP with LayerNorm (the "vmap"
engine), and the 2-D ConvNet of the digits recipe (sklearn 8×8 digits, 3×3 convs with 32-64-128
channels, without its BatchNorm).

    .venv/bin/python bench/bench_vectorized.py             # K = 1 2 4 8 16 32, 300 steps, 3 repeats
    .venv/bin/python bench/bench_vectorized.py --quick     # K = 1 4 16, 100 steps, 1 repeat

Writes bench/results/vectorized.json. The helpers (`Setup`, `one_by_one`, `vectorized`) are used
by bench_search_vectorized.py and bench_ensemble.py as well.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from trainwell.assemble import RunData, from_recipe, model_for, total_steps_for
from trainwell.assemble.data import pick_device, prepare_data
from trainwell.config import Recipe, default_recipe_path, load_recipe
from trainwell.models import MODELS
from trainwell.optim import build_schedule
from trainwell.train.settings import default_eval_every
from trainwell.vectorized import choose_engine, train_many
from trainwell.vectorized.denormal import flushing_denormals

OUT = Path(__file__).resolve().parent / "results" / "vectorized.json"
VECTOR_OPTIMIZERS = {"adam": ("adam", 0.0), "adamw": ("adamw", 0.0), "sgd": ("sgd", 0.0), "momentum": ("sgd", 0.9)}
CASES: dict[str, tuple[str, list[str]]] = {
    "mlp 100-100, batch 100": ("search_mnist1d_mlp", []),
    "mlp 512-512, batch 100": ("search_mnist1d_mlp", ["model.widths=[512, 512]"]),
    "mlp 100-100, batch 1000": ("search_mnist1d_mlp", ["train.batch_size=1000"]),
    "convnet 32x3, batch 128": ("ensemble_mnist1d", []),
    "mlp 100-100 layernorm, batch 100": ("search_mnist1d_mlp", ['model.norm="layer"']),
    "2-D convnet 32-64-128, digits, batch 64": ("digits", ['model.norm="none"']),
}


@dataclass
class Setup:
    """A recipe with its data prepared once (both paths share it; preparation is not timed)."""

    recipe: Recipe
    data: Any
    pipeline: Any
    device: torch.device

    @classmethod
    def of(cls, name: str, overrides: list[str], steps: int | None = None) -> Setup:
        extra = [f"train.steps={steps}"] if steps is not None else []
        recipe = load_recipe(default_recipe_path(name), [*overrides, *extra, "train.checkpoint=false"])
        device = pick_device(recipe.train.device)
        data, pipeline = prepare_data(recipe, device)
        return cls(recipe, data, pipeline, device)

    def trial(self, seed: int, lr: float, weight_decay: float) -> Recipe:
        optim = self.recipe.optim.model_copy(update={"lr": lr, "weight_decay": weight_decay})
        return self.recipe.model_copy(update={"seed": seed, "optim": optim})

    def template(self) -> torch.nn.Module:
        return model_for(self.recipe, self.data.input_shape, self.data.num_classes, self.recipe.seed)

    @property
    def batch_size(self) -> int:
        return min(self.recipe.train.batch_size, len(self.data.x_train))


def trials_for(k: int, seed: int = 0) -> list[tuple[int, float, float]]:
    """K (seed, lr, weight decay) triples, log-uniform over the search recipe's ranges."""
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(k, 2, generator=g, dtype=torch.float64)
    return [(1000 + i, 10 ** (-4 + 3 * float(u[i, 0])), 10 ** (-6 + 5 * float(u[i, 1]))) for i in range(k)]


def _timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def one_by_one(s: Setup, trials: list[tuple[int, float, float]], flush: bool = False) -> dict[str, Any]:
    """Train each trial through the Trainer; seconds (wall, cpu) and final validation accuracies.
    `flush`: run the Trainer with subnormal floats flushed to zero too, as train_many does on a CPU."""

    def run():
        accs = []
        for seed, lr, wd in trials:
            r = s.trial(seed, lr, wd)
            model = model_for(r, s.data.input_shape, s.data.num_classes, seed).to(s.device)
            run_data = RunData.of_bundle(s.data, s.pipeline)
            state = from_recipe(r, data=run_data, model=model, device=s.device, progress=False).fit()
            accs.append(float(state.metrics.get("val_accuracy", float("nan"))))
        return accs

    with flushing_denormals(flush):
        wall, cpu, accs = _timed(run)
    return {"wall_s": wall, "cpu_s": cpu, "val_acc": accs}


def vectorized(s: Setup, trials: list[tuple[int, float, float]], engine: str = "auto") -> dict[str, Any]:
    """Train the trials as one batched model with train_many (same steps, schedule and evaluations)."""
    r, d = s.recipe, s.data
    kind, momentum = VECTOR_OPTIMIZERS[r.optim.name]
    spe = len(d.x_train) // s.batch_size
    steps = total_steps_for(r, spe)
    eval_every = r.train.eval_every or default_eval_every(spe, steps)
    hparams = [{"seed": seed, "lr": lr, "weight_decay": wd, "momentum": momentum} for seed, lr, wd in trials]

    def make_model(g: torch.Generator) -> torch.nn.Module:
        return MODELS.build(r.model, input_shape=tuple(d.input_shape), num_classes=d.num_classes, generator=g)

    def run():
        return train_many(make_model, hparams, d.x_train, d.y_train, steps=steps, batch_size=s.batch_size,
                          optimizer=kind, schedule=build_schedule(r.schedule), x_val=d.x_val, y_val=d.y_val,
                          eval_every=eval_every, device=s.device, engine=engine)

    wall, cpu, res = _timed(run)
    return {"wall_s": wall, "cpu_s": cpu, "val_acc": res.final_val_acc.tolist(), "engine": res.engine}


def compare(s: Setup, k: int, repeats: int, engine: str = "auto",
            trials: list[tuple[int, float, float]] | None = None, trainer_flush: bool = False) -> dict[str, Any]:
    """Both paths on the same K trials (default `trials_for(k)`), alternating (which goes first flips
    each repeat); `trainer_flush`: the Trainer also flushes subnormal floats (see `one_by_one`)."""
    trials = trials if trials is not None else trials_for(k)
    vec, seq = [], []
    for rep in range(repeats):
        order = (vectorized, one_by_one) if rep % 2 == 0 else (one_by_one, vectorized)
        for fn in order:
            (vec if fn is vectorized else seq).append(fn(s, trials, engine) if fn is vectorized else fn(s, trials, trainer_flush))
    med = {f"{side}_{m}": statistics.median(x[m] for x in rows) for side, rows in (("vectorized", vec), ("one_by_one", seq))
           for m in ("wall_s", "cpu_s")}
    diffs = [abs(a - b) for a, b in zip(vec[-1]["val_acc"], seq[-1]["val_acc"])]
    choice = choose_engine(s.template(), k, s.device, s.batch_size)
    return {
        "k": k, "engine": vec[-1]["engine"], "trainer_flush_denormal": trainer_flush, **med,
        "speedup_wall": statistics.median(o["wall_s"] / v["wall_s"] for v, o in zip(vec, seq)),
        "speedup_cpu": statistics.median(o["cpu_s"] / v["cpu_s"] for v, o in zip(vec, seq)),
        "speedup_wall_quartiles": _quartiles([o["wall_s"] / v["wall_s"] for v, o in zip(vec, seq)]),
        "speedup_cpu_quartiles": _quartiles([o["cpu_s"] / v["cpu_s"] for v, o in zip(vec, seq)]),
        "val_acc_abs_diff_max": max(diffs), "val_acc_abs_diff_mean": statistics.mean(diffs), "vectorized_runs": vec, "one_by_one_runs": seq,
        "choose_engine": {"vectorize": choice.vectorize, "engine": choice.engine, "reason": choice.reason},
    }


def _quartiles(xs: list[float]) -> list[float]:
    """[Q1, median, Q3] of the per-repeat ratios (inclusive method; one value: itself thrice)."""
    return statistics.quantiles(xs, n=4, method="inclusive") if len(xs) > 1 else [xs[0]] * 3


def print_table(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n{title}")
    print(f"{'K':>4} {'engine':8} {'vectorized s':>13} {'one by one s':>13} {'speedup':>8} {'(cpu)':>6}  choose_engine")
    for r in rows:
        c = r["choose_engine"]
        pick = f"{'vectorize' if c['vectorize'] else 'one by one'} ({c['engine']})"
        print(f"{r['k']:>4} {r['engine']:8} {r['vectorized_wall_s']:13.2f} {r['one_by_one_wall_s']:13.2f} "
              f"{r['speedup_wall']:8.2f} {r['speedup_cpu']:6.2f}  {pick}")


def environment(threads: int) -> dict[str, Any]:
    return {"torch": torch.__version__, "python": platform.python_version(), "threads": threads,
            "machine": platform.machine(), "processor": platform.processor(),
            "device": "cuda" if torch.cuda.is_available() else "cpu"}


def write_json(path: Path, result: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2))
    tmp.replace(path)
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="K = 1 4 16, 100 steps, 1 repeat")
    ap.add_argument("--ks", type=int, nargs="+")
    ap.add_argument("--steps", type=int)
    ap.add_argument("--repeats", type=int)
    ap.add_argument("--cases", nargs="+", choices=sorted(CASES), metavar="CASE", help=f"subset of {sorted(CASES)}")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for both paths (default 1)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    ks = args.ks or ([1, 4, 16] if args.quick else [1, 2, 4, 8, 16, 32])
    steps = args.steps or (100 if args.quick else 300)
    repeats = args.repeats or (1 if args.quick else 3)
    torch.set_num_threads(args.threads)
    result: dict[str, Any] = {"bench": "vectorized", "steps": steps, "repeats": repeats, **environment(args.threads),
                              "command": " ".join(["python bench/bench_vectorized.py", *(argv if argv is not None else sys.argv[1:])]),
                              "cases": {}}
    for name in args.cases or list(CASES):
        recipe, overrides = CASES[name]
        s = Setup.of(recipe, overrides, steps)
        compare(s, 2, 1)  # warm-up of both paths (allocator, kernels, imports)
        rows = [compare(s, k, repeats) for k in ks]
        print_table(f"{name} ({recipe}{' ' + ' '.join(overrides) if overrides else ''}), {steps} steps, "
                    f"median of {repeats}", rows)
        result["cases"][name] = {"recipe": recipe, "overrides": overrides, "batch_size": s.batch_size, "rows": rows}
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
