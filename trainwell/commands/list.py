"""`trainwell list`: print every registry with one-line descriptions."""
from __future__ import annotations

import argparse

from trainwell.errors import UserError

HELP = "list every registered part (activations, inits, schedules, ...)"

def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", nargs="?", help="only this registry (e.g. activation, init, schedule)")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from trainwell.catalog import registries

    regs = registries()
    if args.kind:
        from trainwell.errors import did_you_mean

        kinds = {r.kind: r for r in regs}
        if args.kind not in kinds:
            raise UserError(f"no registry {args.kind!r}{did_you_mean(args.kind, kinds)}; registries: {', '.join(kinds)}")
        regs = [kinds[args.kind]]
    console = Console()
    for reg in regs:
        table = Table(title=reg.kind, title_justify="left", show_header=False, box=None, pad_edge=False)
        for entry in reg.entries():
            table.add_row(f"  [bold]{entry.name}[/bold]", entry.help)
        console.print(table)
    return 0
