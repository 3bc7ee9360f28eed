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


def _chosen(argv: Sequence[str]) -> str | None:
    """The sub-command named on the command line (the first word that is one), if any."""
    return next((a for a in argv if a in COMMANDS), None)


def build_parser(only: str | None = None) -> tuple[argparse.ArgumentParser, dict]:
    """The parser; only the chosen command's module is imported (so --help needs no torch).

    Every command's one-line help is its module's HELP, read from the module's source text
    without importing it."""
    from trainwell import __version__

    parser = argparse.ArgumentParser(prog="trainwell", description="Train neural networks well.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    parser.add_argument("--version", action="version", version=f"trainwell {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = {}
    for name, path in COMMANDS.items():
        if name == only:
            module = modules[name] = importlib.import_module(path)
            text = module.HELP
        else:
            text = command_help(path)
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks for errors")
        if name in modules:
            modules[name].add_args(p)
    return parser, modules


def command_help(path: str) -> str:
    """The HELP string of a command module, read from its source (no import)."""
    import ast
    from importlib.util import find_spec

    spec = find_spec(path)
    tree = ast.parse(open(spec.origin, encoding="utf-8").read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "HELP" for t in node.targets):
            return ast.literal_eval(node.value)
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, modules = build_parser(_chosen(argv))
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
