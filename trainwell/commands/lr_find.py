"""`trainwell lr-find`: the LR range test on a recipe's model, data and optimizer.

    trainwell lr-find --recipe recipes/default.toml --out runs/lr
"""
from __future__ import annotations

import argparse
from pathlib import Path

from trainwell.commands.common import add_recipe_args, load_recipe_arg

HELP = "LR range test (Smith 2015) on a recipe: suggestion vs the recipe's optim.lr, plot and JSON"


def add_args(p: argparse.ArgumentParser) -> None:
    add_recipe_args(p)
    p.add_argument("--steps", type=int, default=100, help="sweep steps (default 100)")
    p.add_argument("--start-lr", type=float, default=1e-7)
    p.add_argument("--end-lr", type=float, default=10.0)
    p.add_argument("--out", type=Path, default=Path("lr_find"), help="folder for lr_find.png and lr_find.json")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from trainwell.doctor.config import DoctorConfig
    from trainwell.doctor.lr_check import judge_lr, lr_at_min, run_lr_find
    from trainwell.doctor.subject import recipe_subject
    from trainwell.errors import UserError
    from trainwell.io import atomic_write_json, check_writable
    from trainwell.report.diagnostics_plots import plot_lr_finder

    if args.steps < 2 or not 0 < args.start_lr < args.end_lr:
        raise UserError(f"lr-find: need --steps ≥ 2 and 0 < --start-lr < --end-lr, found {args.steps}, "
                        f"{args.start_lr}, {args.end_lr}")
    check_writable(args.out, "output folder (--out)")
    recipe = load_recipe_arg(args)
    console = Console()
    with console.status(f"LR range test on {recipe.name} ({args.steps} steps)"):
        cfg = DoctorConfig(lr_steps=args.steps, lr_start=args.start_lr, lr_end=args.end_lr, seed=recipe.seed)
        subject = recipe_subject(recipe, cfg)
        if subject.fatal:
            raise UserError(f"lr-find: {subject.fatal[0].message}")
        result = run_lr_find(subject, cfg)
    finding = judge_lr(subject, result, {}, False, "", {}, cfg)  # the sweep alone: no short run
    record = result.to_json()
    record.update({"recipe": recipe.name, "recipe_lr": recipe.optim.lr, "lr_min_loss": lr_at_min(result),
                   "verdict": finding.to_json()})
    atomic_write_json(args.out / "lr_find.json", record)
    plot_lr_finder(record, args.out / "lr_find.png", title=f"LR range test · {recipe.name} · {recipe.optim.name}")
    s = result.suggestion
    console.print(f"suggestion (steepest descent): {s:.3g}" if s else "suggestion: none")
    console.print(f"recipe optim.lr: {recipe.optim.lr:.3g}" + (f"  (ratio {recipe.optim.lr / s:.2g})" if s else ""))
    if result.stop_reason:
        console.print(f"sweep stopped: {result.stop_reason}")
    style = {"pass": "green", "info": "cyan", "warn": "yellow", "fail": "red"}[finding.severity]
    advice = f" → {finding.advice('recipe')}" if finding.prescription is not None else ""
    console.print(f"[{style}]{finding.severity}[/{style}] {finding.message}{advice}")
    console.print(f"wrote {args.out / 'lr_find.png'} and {args.out / 'lr_find.json'}")
    return 0
