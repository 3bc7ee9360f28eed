"""`trainwell doctor`: run the babysitting protocol on a recipe and print a checklist.

    trainwell doctor --recipe recipes/default.toml --quick --json doctor.json --out runs/doctor

Exit status 0 unless a check fails (1); user errors exit 2 (see trainwell.cli).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from trainwell.commands.common import add_recipe_args, load_recipe_arg

HELP = "diagnose a recipe: data, initial loss, overfit a tiny subset, LR, layer statistics → prescriptions"


def add_args(p: argparse.ArgumentParser) -> None:
    add_recipe_args(p)
    p.add_argument("--json", type=Path, metavar="FILE", help="write the findings as a JSON list")
    p.add_argument("--out", type=Path, default=Path("doctor"), help="folder for doctor.html and its plots (default ./doctor)")
    p.add_argument("--quick", action="store_true", help="smaller budgets (fewer examples and steps), same thresholds")
    p.add_argument("--steps", type=int, metavar="N", help="cap every loop of the doctor at N steps (a smoke run; verdicts "
                                                         "on so few steps are not meaningful)")
    p.add_argument("--no-report", action="store_true", help="skip doctor.html")


def print_checklist(console, findings) -> None:
    from rich.table import Table

    table = Table(show_lines=False)
    table.add_column("status")
    table.add_column("check")
    table.add_column("layer")
    table.add_column("finding / prescription", overflow="fold")
    style = {"pass": "green", "warn": "yellow", "fail": "bold red"}
    for f in findings:
        table.add_row(f"[{style[f.status]}]{f.status}[/{style[f.status]}]", f.check, f.layer or "", f.message)
    console.print(table)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from trainwell.doctor import DoctorConfig, diagnose

    recipe = load_recipe_arg(args)
    cfg = DoctorConfig(seed=recipe.seed)
    if args.quick:
        cfg = cfg.quick()
    if args.steps is not None:
        cfg = cfg.capped(args.steps)
    console = Console()
    with console.status("doctor") as status:
        result = diagnose(recipe, cfg, progress=lambda stage: status.update(f"doctor · {recipe.name} · {stage}"))
    console.print(f"[b]trainwell doctor · {recipe.name}[/b]")
    print_checklist(console, result.findings)
    counts = {s: sum(f.status == s for f in result.findings) for s in ("pass", "warn", "fail")}
    console.print(f"{counts['fail']} fail · {counts['warn']} warn · {counts['pass']} pass")
    if args.json:
        from trainwell.io import atomic_write_json

        atomic_write_json(args.json, [f.to_json() for f in result.findings])
        console.print(f"wrote {args.json}")
    if not args.no_report:
        from trainwell.report.doctor_report import write_doctor_report

        page = write_doctor_report(result.to_json(), args.out)
        console.print(f"wrote {page}")
    return result.exit_code
