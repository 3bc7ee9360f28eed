"""The `trainwell` command line. Thin: parse, build a config, call the library.

Each sub-command lives in `trainwell/commands/<name>.py` (HELP, add_args, run) and is listed
here explicitly. User errors (bad file, bad key, bad value, bad data) exit with status 2 and a
one-paragraph message on stderr; `--debug` shows the traceback.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from trainwell.errors import UserError

COMMANDS = {
    "train": "trainwell.commands.train",
    "list": "trainwell.commands.list",
    "doctor": "trainwell.commands.doctor",
    "lr-find": "trainwell.commands.lr_find",
    "init-stats": "trainwell.commands.init_stats",
    "gradcheck": "trainwell.commands.gradcheck",
    "search": "trainwell.commands.search",
    "ensemble": "trainwell.commands.ensemble",
    "finetune": "trainwell.commands.finetune",
    "experiment": "trainwell.commands.experiment",
    "report": "trainwell.commands.report",
    "predict": "trainwell.commands.predict",
    "evaluate": "trainwell.commands.evaluate",
    "export": "trainwell.commands.export",
}


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    parser = argparse.ArgumentParser(prog="trainwell", description="Train neural networks well.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = {}
    for name, path in COMMANDS.items():
        module = modules[name] = importlib.import_module(path)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks for errors")
        module.add_args(p)
    return parser, modules


def main(argv: Sequence[str] | None = None) -> int:
    parser, modules = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return modules[args.command].run(args)
    except UserError as exc:
        if args.debug:
            raise
        message = " ".join(str(exc).split())
        print(f"trainwell {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"trainwell {args.command}: interrupted; checkpoints written so far are kept "
              "(continue with: trainwell train --resume RUN_DIR)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
