"""`trainwell report RUN_DIR`: (re)write a run's report.html and plots from its records."""
from __future__ import annotations

import argparse
from pathlib import Path

from trainwell.errors import UserError

HELP = "write report.html for a run directory (summary, loss and task metrics, LR, gradient norm, per-layer statistics)"


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", type=Path, help="a run directory (runs/<name>)")


def run(args: argparse.Namespace) -> int:
    from trainwell.report.run_report import write_run_report

    if not args.run_dir.is_dir():
        raise UserError(f"{args.run_dir} is not a folder: give a run directory (runs/<name>)")
    if not (args.run_dir / "metrics.jsonl").is_file():
        raise UserError(f"{args.run_dir} has no metrics.jsonl: not a trainwell run directory (or it logged nothing yet)")
    path = write_run_report(args.run_dir)
    print(path)
    return 0
