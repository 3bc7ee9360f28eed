"""Trainer overhead vs a plain hand-written PyTorch loop (issue bar: >= 1.0x the steps/s).

Both train the same model with the same optimizer, from pre-loaded tensors sliced by index:
`--model paper` (default) the MNIST-1D paper's small CNN (Conv1d 1→25 k5 s2, two Conv1d 25→25 k3
s2, ReLU, Linear 125→10; 5k parameters, where a loop's own overhead shows) with Adam lr 1e-2,
batch 100; `--model default` the default recipe's ConvNet (146k parameters) with its AdamW,
batch 128. The Trainer
runs with its default callbacks (metric logging every 20 steps, progress bar off, evaluation on the
validation set at its default cadence, checkpoints to a temp dir); the plain loop evaluates the same
validation set at the same steps, so both do the same useful work. The two alternate in one
process; we report the median ratio over repeats, of wall-clock steps/s and of steps per CPU-second
of this process (time.process_time). On a shared, loaded machine the CPU-time ratio is the stable
one (wall time also counts the time other jobs hold the core); with one thread both measure the
same work.

    taskset -c 1 python bench/bench_trainer_overhead.py                  # paper CNN, 15 × 1000 steps
    taskset -c 1 python bench/bench_trainer_overhead.py --model default  # the default recipe's model
    python bench/bench_trainer_overhead.py --quick                        # 5 × 300 steps
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from trainwell.data import BatchLoader, load_data
from trainwell.models import MODELS
from trainwell.train import Trainer, TrainerSettings
from trainwell.train.evaluate import evaluate
from trainwell.train.settings import default_eval_every

PAPER_CNN = {"name": "convnet", "channels": [25, 25, 25], "kernel": [5, 3, 3], "stride": 2, "padding": 1,
             "norm": "none", "head": "flatten", "init": "torch_default"}


def setup(which: str, data, seed: int):
    """(model, optimizer, batch size) of the compared configuration, built the same way for both sides."""
    if which == "paper":
        m = MODELS.build(PAPER_CNN, input_shape=data.input_shape, num_classes=10,
                         generator=torch.Generator().manual_seed(seed))
        return m, torch.optim.Adam(m.parameters(), lr=1e-2), 100
    from trainwell.assemble.parts import optimizer_for
    from trainwell.config import load_recipe

    recipe = load_recipe("default")
    m = MODELS.build(recipe.model, input_shape=data.input_shape, num_classes=10,
                     generator=torch.Generator().manual_seed(seed))
    return m, optimizer_for(recipe, m), recipe.train.batch_size


def plain(which, data, steps, seed):
    m, opt, b = setup(which, data, seed)
    g = torch.Generator().manual_seed(seed + 1)
    x, y = data.x_train, data.y_train
    per_epoch = len(x) // b
    every = default_eval_every(per_epoch, steps)
    start, cpu = time.perf_counter(), time.process_time()
    step = 0
    while step < steps:
        perm = torch.randperm(len(x), generator=g)
        for i in range(per_epoch):
            idx = perm[i * b : (i + 1) * b]
            loss = F.cross_entropy(m(x.index_select(0, idx)), y.index_select(0, idx))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            if step % every == 0 or step == steps:
                evaluate(m, data.x_val, data.y_val)
            if step == steps:
                break
    return steps / (time.perf_counter() - start), steps / (time.process_time() - cpu)


def trainer(which, data, steps, seed, run_dir):
    m, opt, b = setup(which, data, seed)
    loader = BatchLoader(data.x_train, data.y_train, b, generator=torch.Generator().manual_seed(seed + 1))
    t = Trainer(m, loader, opt, TrainerSettings(total_steps=steps, seed=seed, run_dir=run_dir), val=(data.x_val, data.y_val))
    start, cpu = time.perf_counter(), time.process_time()
    t.fit()
    return steps / (time.perf_counter() - start), steps / (time.process_time() - cpu)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=("paper", "default"), default="paper")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    if args.quick:
        args.steps, args.repeats = 300, 5
    out = args.out or Path(f"bench/results/trainer_overhead_{args.model}.json")
    torch.set_num_threads(args.threads)
    data = load_data("mnist1d", seed=0)
    plain(args.model, data, 50, 0)  # warm-up
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            order = ("plain", "trainer") if r % 2 == 0 else ("trainer", "plain")
            got = {}
            for name in order:
                got[name] = (plain(args.model, data, args.steps, r) if name == "plain"
                             else trainer(args.model, data, args.steps, r, Path(tmp) / f"run{r}"))
            (pw, pc), (tw, tc) = got["plain"], got["trainer"]
            rows.append({"repeat": r, "plain_steps_per_s": pw, "trainer_steps_per_s": tw, "wall_ratio": tw / pw,
                         "plain_steps_per_cpu_s": pc, "trainer_steps_per_cpu_s": tc, "cpu_ratio": tc / pc})
            print(f"repeat {r}: wall plain {pw:.0f} / trainer {tw:.0f} steps/s (ratio {tw / pw:.3f}); "
                  f"cpu plain {pc:.0f} / trainer {tc:.0f} steps/cpu-s (ratio {tc / pc:.3f})", flush=True)
    ratio = statistics.median(r["cpu_ratio"] for r in rows)
    wall = statistics.median(r["wall_ratio"] for r in rows)
    q = statistics.quantiles([r["cpu_ratio"] for r in rows], n=4) if len(rows) >= 4 else [ratio, ratio, ratio]
    result = {"bench": "trainer_overhead", "model": args.model, "steps": args.steps, "threads": args.threads,
              "rows": rows, "median_cpu_ratio": ratio, "cpu_ratio_quartiles": [q[0], q[2]], "median_wall_ratio": wall,
              "bar": 1.0, "passed": ratio >= 1.0}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"{args.model}: median trainer/plain ratio {ratio:.3f} per CPU-second (quartiles {q[0]:.3f}–{q[2]:.3f}), "
          f"{wall:.3f} wall (bar >= 1.0) -> {'PASS' if result['passed'] else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
