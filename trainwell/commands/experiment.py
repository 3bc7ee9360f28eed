"""`trainwell experiment NAME`: reproduce a lecture claim and print the table behind it."""
from __future__ import annotations

import argparse
from pathlib import Path

HELP = "reproduce a lecture claim with numbers (trainwell experiment --list)"


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", help="experiment name (see --list)")
    p.add_argument("--list", action="store_true", help="list the experiments")
    p.add_argument("--quick", action="store_true", help="a small budget (minutes → seconds), for a smoke run")
    p.add_argument("--out", type=Path, help="directory for the result JSON and runs (default: runs/experiments/NAME)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from trainwell.experiments.registry import EXPERIMENTS

    console = Console()
    if args.list or not args.name:
        for entry in EXPERIMENTS.entries():
            console.print(f"  [bold]{entry.name}[/bold]  {entry.help}")
        return 0
    if args.name not in EXPERIMENTS:
        EXPERIMENTS.get(args.name)  # raises UserError with the closest name
    out = args.out or Path("runs") / "experiments" / args.name
    result = EXPERIMENTS.get(args.name).constructor(quick=args.quick, progress=not args.quiet, out_dir=out)
    table = Table(title=f"{result.name}: {result.claim}", title_justify="left")
    for column in result.columns:
        table.add_column(column)
    for row in result.rows:
        table.add_row(*(str(c) for c in row))
    console.print(table)
    mark = {True: "[green]HOLDS[/green]", False: "[red]DOES NOT HOLD[/red]", None: ""}[result.passed]
    console.print(f"{mark} {result.verdict}")
    path = result.save(out / "result.json")
    console.print(f"result: {path}")
    return 1 if result.passed is False else 0
