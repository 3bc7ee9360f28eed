"""`trainwell report RUN_DIR`: (re)write a run's report.html and plots from its records."""
from __future__ import annotations

import argparse
from pathlib import Path

from trainwell.errors import UserError

HELP = "write report.html (loss/accuracy/LR plots) for a run directory"


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", type=Path, help="a run directory (runs/<name>)")


def run(args: argparse.Namespace) -> int:
    from trainwell.report.run_report import write_run_report

    if not (args.run_dir / "metrics.jsonl").exists():
        raise UserError(f"{args.run_dir} has no metrics.jsonl: not a trainwell run directory (or it logged nothing yet)")
    path = write_run_report(args.run_dir)
    print(path)
    return 0
