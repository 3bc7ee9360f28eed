"""Arguments and helpers shared by several sub-commands."""
from __future__ import annotations

import argparse


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
