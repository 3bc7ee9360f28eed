"""`trainwell experiment NAME | all`: reproduce lecture claims with numbers, a verdict and a plot.

    trainwell experiment --list                  every claim: name, one line, source
    trainwell experiment relu-vs-tanh --quick    one claim: table, verdict, out/result.json + plot.png
    trainwell experiment all --quick             every claim, and out/index.html "The lectures, reproduced"

Exit status: 0 when the experiments ran (a claim that does not hold is a result, printed as such),
1 when an experiment failed to run, 2 on bad arguments.
"""
from __future__ import annotations

import argparse
import traceback
from pathlib import Path
from typing import Any

HELP = "reproduce lecture claims with numbers and plots (trainwell experiment --list; NAME or all)"


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", help="experiment name (see --list), or 'all'")
    p.add_argument("--list", action="store_true", help="list the experiments: name, claim, source")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_const", dest="budget", const="quick",
                      help="a small budget (1–2 seeds, fewer steps): under a minute each, same verdict as the full run")
    size.add_argument("--smoke", action="store_const", dest="budget", const="smoke",
                      help="a tiny budget (seconds; for tests: the verdict means nothing)")
    p.set_defaults(budget="full")
    p.add_argument("--out", type=Path, help="output folder (default: runs/experiments/NAME, or runs/experiments for all)")
    p.add_argument("--only", help="with 'all': a comma-separated subset of names")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1: small models run best on one)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _print_list(console: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    from trainwell.experiments.registry import CLAIMS

    table = Table(title=f"{len(CLAIMS)} lecture claims (trainwell experiment NAME [--quick])", title_justify="left")
    for column in ("name", "claim", "source"):
        table.add_column(column, overflow="fold")
    for c in CLAIMS.values():
        table.add_row(escape(c.name), escape(c.claim), escape(c.source))
    console.print(table)


def _show(console: Any, result: Any) -> None:
    from rich.markup import escape as e
    from rich.table import Table

    console.rule(f"[bold]{e(result.name)}[/bold]")
    console.print(f"[bold]claim[/bold]   {e(result.claim)}\n[bold]source[/bold]  {e(result.source)}")
    if result.setting:
        console.print(f"[bold]setting[/bold] {e(result.setting)}")
    table = Table()
    for column in result.columns:
        table.add_column(e(str(column)), overflow="fold")
    for row in result.rows:
        table.add_row(*(e(str(c)) for c in row))
    console.print(table)
    color = {True: "green", False: "red", None: "yellow"}[result.passed]
    tolerance = f" [dim](criterion: {e(result.tolerance)})[/dim]" if result.tolerance else ""
    console.print(f"[{color}]{result.mark}[/{color}] {e(result.verdict)}{tolerance}")
    if result.notes:
        console.print(f"[dim]{e(result.notes)}[/dim]")


def run_one(name: str, budget: str, out: Path, progress: bool, console: Any) -> dict[str, Any]:
    """Run one experiment into `out` (result.json, plot.png); the result dict, with "plot" relative to
    out's parent and "error" when it failed."""
    from trainwell.experiments.registry import CLAIMS, run_claim
    from trainwell.report.experiment_plots import plot_experiment

    out.mkdir(parents=True, exist_ok=True)
    try:
        result = run_claim(name, budget, progress=progress, out_dir=out)
    except Exception as exc:  # noqa: BLE001 — one broken experiment must not hide the others' results
        meta = CLAIMS[name]
        from rich.markup import escape

        console.print(f"[red]ERROR[/red] {name}: {escape(f'{type(exc).__name__}: {exc}')}")
        return {"name": name, "claim": meta.claim, "source": meta.source, "passed": None, "budget": budget,
                "error": "".join(traceback.format_exception_only(type(exc), exc)).strip()}
    _show(console, result)
    plot = plot_experiment(result.to_dict(), out / "plot.png")
    saved = result.save(out / "result.json")
    console.print(f"wrote {saved} and {plot} ({result.seconds:.1f} s)", markup=False)
    return result.to_dict() | {"plot": f"{out.name}/plot.png"}


def run(args: argparse.Namespace) -> int:
    import torch
    from rich.console import Console

    from trainwell.errors import UserError
    from trainwell.experiments.registry import CLAIMS, EXPERIMENTS

    console = Console()
    if args.list or not args.name:
        _print_list(console)
        return 0
    if args.threads < 1:
        raise UserError(f"--threads must be >= 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    progress = not args.quiet
    if args.name != "all":
        if args.only:
            raise UserError("--only goes with 'trainwell experiment all'")
        EXPERIMENTS.get(args.name)  # UserError with the closest name when unknown
        out = args.out or Path("runs") / "experiments" / args.name
        result = run_one(args.name, args.budget, out, progress, console)
        return 1 if result.get("error") else 0
    names = list(CLAIMS)
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        for n in names:
            EXPERIMENTS.get(n)
    root = args.out or Path("runs") / "experiments"
    results = [run_one(name, args.budget, root / name, progress, console) for name in names]
    from trainwell.report.lectures_page import write_lectures_page

    page = write_lectures_page(results, root, args.budget)
    held = sum(1 for r in results if r.get("passed") is True)
    not_held = sum(1 for r in results if r.get("passed") is False)
    errors = [r["name"] for r in results if r.get("error")]
    seconds = sum(float(r.get("seconds", 0.0)) for r in results)
    console.rule()
    console.print(f"{len(results)} experiments in {seconds:.0f} s: {held} hold, {not_held} do not hold"
                  + (f", failed to run: {', '.join(errors)}" if errors else ""))
    console.print(f"page: {page}")
    return 1 if errors else 0
