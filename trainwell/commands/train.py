"""`trainwell train`: train a recipe, write the run directory and its report, print a summary."""
from __future__ import annotations

import argparse
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
    summary = train_recipe(recipe, out, resume=args.resume is not None, overwrite=args.overwrite,
                         progress=not args.quiet)
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
    table.add_row("train wall time", f"{s['train_seconds']:.1f} s for {s['steps']} steps ({s['epochs']:.1f} epochs)")
    table.add_row("data", s["data"])
    table.add_row("model", f"{s['parameters']:,} parameters on {s['device']}")
    table.add_row("run directory", s["run_dir"])
    console.print(table)
