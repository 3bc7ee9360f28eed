"""Many trials as one batched model vs the same trials one after another (MNIST-1D, CPU).

Two cases, each timed side by side in one process, median over repeats:

* search: 32 trials of the MLP 40→100→100→10 (ReLU), Adam, lr ~ log-U[1e-4, 1e-1], weight decay
  ~ log-U[1e-6, 1e-2], batch 100, 2000 steps each. Bar: batched ≥ 4× faster.
* ensemble: 8 seeds of a small Conv1d net, Adam lr 1e-3. Bar: batched ≤ 0.5× the one-by-one time.

The one-by-one runner is pluggable: any function with `reference_train_one`'s signature
(``one_by_one(make_model, hparams, x, y, *, steps, batch_size, optimizer, device)``), registered
in ONE_BY_ONE (the lead adds a Trainer-based one there).

    .venv/bin/python bench/bench_vectorized.py            # full: 2000 steps, median of 3
    .venv/bin/python bench/bench_vectorized.py --quick    # 200 steps, 1 repeat
Writes bench/results/vectorized.json.
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from trainwell.vectorized import reference_train_one, train_many

ONE_BY_ONE: dict[str, Callable] = {"reference": reference_train_one}


def _init(model: nn.Module, g: torch.Generator) -> nn.Module:
    """Kaiming-uniform weights (ReLU gain) and zero biases, drawn from `g`."""
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim > 1:
                fan_in = p[0].numel()
                bound = math.sqrt(6.0 / fan_in)
                p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) * bound)
            else:
                p.zero_()
    return model


def make_mlp(g: torch.Generator) -> nn.Module:
    return _init(nn.Sequential(nn.Linear(40, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(), nn.Linear(100, 10)), g)


def make_convnet(g: torch.Generator) -> nn.Module:
    return _init(
        nn.Sequential(
            nn.Unflatten(1, (1, 40)),
            nn.Conv1d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
            nn.Flatten(), nn.Linear(32 * 10, 10),
        ),
        g,
    )


def search_hparams(k: int, seed: int = 0) -> list[dict]:
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(k, 2, generator=g, dtype=torch.float64)
    return [
        {"seed": 1000 + i, "lr": 10 ** (-4 + 3 * float(u[i, 0])), "weight_decay": 10 ** (-6 + 4 * float(u[i, 1]))}
        for i in range(k)
    ]


def load_mnist1d():
    from mnist1d.data import get_dataset_args, make_dataset

    d = make_dataset(get_dataset_args())
    x, y = torch.tensor(d["x"], dtype=torch.float32), torch.tensor(d["y"]).long()
    xt, yt = torch.tensor(d["x_test"], dtype=torch.float32), torch.tensor(d["y_test"]).long()
    return x[:4000], y[:4000], xt, yt


def time_case(name, make, hps, data, steps, repeats, one_by_one, engine):
    x, y, xt, yt = data
    kw = dict(steps=steps, batch_size=100, optimizer="adam")
    t_many, t_one, acc_many, acc_one = [], [], None, None
    for _ in range(repeats):  # interleaved, so both see the same machine load
        t0 = time.perf_counter()
        r = train_many(make, hps, x, y, engine=engine, x_val=xt, y_val=yt, **kw)
        t_many.append(time.perf_counter() - t0)
        acc_many = r.final_val_acc.tolist()
        t0 = time.perf_counter()
        accs = []
        for hp in hps:
            one = one_by_one(make, hp, x, y, x_val=xt, y_val=yt, **kw)
            accs.append(one.final_val_acc)
        t_one.append(time.perf_counter() - t0)
        acc_one = accs
    many, one = statistics.median(t_many), statistics.median(t_one)
    return {
        "case": name, "k": len(hps), "steps": steps, "engine": r.engine,
        "batched_s": many, "one_by_one_s": one, "speedup": one / many, "time_ratio": many / one,
        "batched_runs_s": t_many, "one_by_one_runs_s": t_one,
        "max_abs_acc_diff": max(abs(a - b) for a, b in zip(acc_many, acc_one)),
        "best_val_acc": max(acc_many),
    }


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="200 steps, 1 repeat")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1: the box is shared)")
    ap.add_argument("--one-by-one", default="reference", choices=sorted(ONE_BY_ONE))
    ap.add_argument("--engine", default="auto", choices=["auto", "batched", "vmap"])
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "vectorized.json"))
    args = ap.parse_args(argv)
    steps = args.steps or (200 if args.quick else 2000)
    repeats = args.repeats or (1 if args.quick else 3)
    torch.set_num_threads(args.threads)
    data = load_mnist1d()
    one_by_one = ONE_BY_ONE[args.one_by_one]
    rows = [
        time_case("search: 32 MLPs", make_mlp, search_hparams(32), data, steps, repeats, one_by_one, args.engine),
        time_case("ensemble: 8 ConvNets", make_convnet, [{"seed": 2000 + i, "lr": 1e-3} for i in range(8)], data, steps, repeats, one_by_one, args.engine),
    ]
    bars = {"search: 32 MLPs": ("speedup", 4.0, ">="), "ensemble: 8 ConvNets": ("time_ratio", 0.5, "<=")}
    print(f"{'case':22} {'engine':8} {'batched s':>10} {'1-by-1 s':>10} {'speedup':>8} {'ratio':>6}  bar   acc diff")
    for row in rows:
        key, bar, op = bars[row["case"]]
        row["bar"] = f"{key} {op} {bar}"
        row["meets_bar"] = row[key] >= bar if op == ">=" else row[key] <= bar
        print(
            f"{row['case']:22} {row['engine']:8} {row['batched_s']:10.2f} {row['one_by_one_s']:10.2f} {row['speedup']:8.2f} "
            f"{row['time_ratio']:6.2f}  {'ok' if row['meets_bar'] else 'MISS'}  {row['max_abs_acc_diff']:.4f}"
        )
    result = {
        "torch": torch.__version__, "threads": args.threads, "one_by_one": args.one_by_one, "steps": steps,
        "repeats": repeats, "machine": platform.machine(), "processor": platform.processor(), "rows": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
