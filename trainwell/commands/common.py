"""Arguments and helpers shared by several sub-commands."""
from __future__ import annotations

import argparse

def check_range(value, flag: str, low: float, high: float):
    """`value` if low <= value <= high (NaN never is), else a UserError naming `flag`."""
    from trainwell.errors import UserError

    if not low <= value <= high:
        raise UserError(f"{flag} must be in [{low:g}, {high:g}], got {value}")
    return value

def new_output_folder(out, flag: str = "--out"):
    """`out` created and proven writable; refused when it already holds a training run (config.json,
    last.pt, final.pt or metrics.jsonl), which this command's files would replace."""
    from pathlib import Path

    from trainwell.errors import UserError
    from trainwell.io import check_writable

    out = Path(out)
    if out.is_dir() and any((out / name).exists() for name in ("config.json", "last.pt", "final.pt", "metrics.jsonl")):
        raise UserError(f"{flag} {out} holds a run (config.json / final.pt there would be replaced); "
                        "pick a new folder")
    return check_writable(out, f"output folder ({flag})")

def add_recipe_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--recipe", help="TOML recipe: a file, or the name of a packaged recipe (default: default); "
                                    "see `trainwell list recipe`")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a recipe key, e.g. optim.lr=0.01")
    p.add_argument("--seed", type=int, help="random seed (overrides the recipe's)")

def load_recipe_arg(args: argparse.Namespace):
    """The recipe named by --recipe (or the default), with --set and --seed applied."""
    from trainwell.config import load_recipe

    overrides = list(args.set or [])
    if getattr(args, "seed", None) is not None:
        overrides.append(f"seed={args.seed}")
    return load_recipe(args.recipe or "default", overrides)
