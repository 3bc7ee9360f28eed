"""`trainwell train`: train a recipe, write the run directory and its report, print a summary.

`--nproc N` trains data-parallel on N local processes (torch's elastic launcher, what torchrun
uses; gloo on the CPU, NCCL with one GPU a process): each runs this command without --nproc, and
`train.batch_size` is the global batch of all of them. Across machines start it with torchrun
(`torchrun --nnodes M --nproc-per-node N ... -m trainwell train ...`): see README "Scaling out".
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trainwell.commands.common import add_recipe_args, load_recipe_arg
from trainwell.errors import UserError

HELP = "train a recipe (default: MNIST-1D ConvNet)"

def add_args(p: argparse.ArgumentParser) -> None:
    add_recipe_args(p)
    p.add_argument("--out", type=Path, help="run directory (default: runs/<recipe name>, never overwriting)")
    p.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue a stopped run from its last checkpoint")
    p.add_argument("--overwrite", action="store_true", help="reuse a non-empty --out directory")
    p.add_argument("--no-report", action="store_true", help="skip report.html and its plots")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--nproc", type=int, default=1, metavar="N",
                   help="train data-parallel on N local processes (gloo on the CPU, NCCL with one GPU each); "
                        "train.batch_size is the global batch of all N")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from trainwell.assemble import recipe_of_run, train_recipe

    console = Console(stderr=True)
    if args.resume is not None:
        if args.recipe or args.set:
            raise UserError("--resume continues a run with its own saved recipe; drop --recipe/--set")
        recipe = recipe_of_run(args.resume)
        out = args.resume
    else:
        recipe = load_recipe_arg(args)
        out = args.out
    if args.nproc != 1:
        return _launch(args, recipe)
    summary = train_recipe(recipe, out, resume=args.resume is not None, overwrite=args.overwrite,
                         progress=not args.quiet)
    if summary.get("rank", 0) != 0:  # data-parallel: rank 0 writes the report and prints
        return 0
    run_dir = Path(summary["run_dir"])
    if not args.no_report:
        from trainwell.report.run_report import write_run_report

        write_run_report(run_dir)
    if summary["status"] != "done":
        console.print(f"[red]training stopped:[/red] {summary['message']}")
        console.print(f"run directory: {run_dir}")
        return 1
    _print_summary(Console(), summary)
    return 0


def child_argv(args: argparse.Namespace) -> list[str]:
    """The `trainwell train ...` arguments each launched process runs: these, without --nproc."""
    argv = ["train"]
    if getattr(args, "debug", False):
        argv.append("--debug")
    if args.recipe:
        argv += ["--recipe", str(args.recipe)]
    for assignment in args.set or []:
        argv += ["--set", assignment]
    if args.seed is not None:
        argv += ["--seed", str(args.seed)]
    for flag in ("out", "resume"):
        if getattr(args, flag) is not None:
            argv += [f"--{flag}", str(getattr(args, flag))]
    argv += [f"--{flag.replace('_', '-')}" for flag in ("overwrite", "no_report", "quiet") if getattr(args, flag)]
    return argv


def _launch(args: argparse.Namespace, recipe) -> int:
    """`--nproc N`: this command in N local processes of one data-parallel run."""
    import os

    from trainwell.train.launch import run_local

    if args.nproc < 1:
        raise UserError(f"--nproc must be >= 1, got {args.nproc}")
    if "TORCHELASTIC_RUN_ID" in os.environ or int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise UserError("this process was started by torchrun (or another launcher) already; drop --nproc and "
                        "give the number of processes to the launcher")
    _check_processes(args.nproc, recipe)
    try:
        failures = run_local(args.nproc, launched_train, (child_argv(args),))
    except KeyboardInterrupt:  # Ctrl-C: every process said so already
        return 130
    if not failures:
        return 0
    first = failures[0]
    others = "; the other processes were stopped" if len(failures) < args.nproc else ""
    print(f"trainwell train: error: {first.describe()} (its message is above){others}", file=sys.stderr)
    return first.exitcode if first.exitcode > 0 else 1


def _check_processes(nproc: int, recipe) -> None:
    """What can be told before starting N processes: the global batch splits into N equal shares,
    and with CUDA there is a GPU for each process."""
    import torch

    from trainwell.data.loader import check_shard

    check_shard(0, nproc, recipe.train.batch_size, True)
    device = recipe.train.device
    cuda = torch.cuda.is_available() if device == "auto" else device.startswith("cuda")
    if cuda and nproc > torch.cuda.device_count():
        raise UserError(f"--nproc {nproc} with CUDA needs a GPU for each process, and this machine has "
                        f"{torch.cuda.device_count()}; use at most that many, or train.device = \"cpu\"")


def launched_train(argv: list[str]) -> None:
    """What each process of `--nproc N` runs: `trainwell train` with `argv`; a failure exits with its code."""
    from trainwell.cli import main

    code = main(argv)
    if code:
        raise SystemExit(code)


def _pct(value) -> str:
    return "—" if value is None else f"{100 * value:.2f}%"


def _num(value) -> str:
    return "—" if value is None else f"{value:.4g}"


def _print_summary(console, s: dict) -> None:
    from rich.table import Table

    table = Table(title=f"trainwell train · {s['recipe']} · seed {s['seed']}", show_header=False)
    if s.get("task", "classification") == "classification":
        table.add_row("test accuracy", f"{_pct(s.get('test_accuracy'))} ({s.get('test_weights', 'final')} weights)")
        if s.get("test_weights", "").split(" ")[0] != "final" and "test_final_accuracy" in s:
            table.add_row("test accuracy (final weights)", _pct(s.get("test_final_accuracy")))
        if "test_accuracy_plain" in s:
            table.add_row("test accuracy (no TTA)", _pct(s["test_accuracy_plain"]))
        if "test_accuracy_ema" in s:
            table.add_row("test accuracy (EMA weights)", _pct(s["test_accuracy_ema"]))
        if "test_accuracy_swa" in s:
            table.add_row("test accuracy (SWA weights)", _pct(s["test_accuracy_swa"]))
        best = s.get("best_val_accuracy")
        best_text = f"{_pct(best)} at step {s['best_step']}" if best is not None and best >= 0 else "—"
        table.add_row("val accuracy (final; best)", f"{_pct(s.get('val_accuracy'))}; {best_text}")
    else:
        metrics = [k[len("test_"):] for k in s if k.startswith("test_") and not k.startswith("test_final_")
                   and k != "test_weights"]
        table.add_row("test", " · ".join(f"{m} {_num(s[f'test_{m}'])}" for m in metrics) + f" ({s.get('test_weights')} weights)")
        table.add_row("val (final)", f"loss {_num(s.get('val_loss'))}")
    table.add_row("task", f"{s.get('task')} ({s.get('task_reason')})")
    table.add_row("train wall time", f"{s['train_seconds']:.1f} s for {s['steps']} steps ({s['epochs']:.1f} epochs)"
                  + (f", {s['precision']}" if s.get("precision") else ""))
    table.add_row("data", s["data"])
    table.add_row("model", f"{s['parameters']:,} parameters on {s['device']}")
    table.add_row("run directory", s["run_dir"])
    console.print(table)
