"""`trainwell search`: hyperparameter search over a recipe (random, grid, coarse-to-fine) in an Optuna study.

    trainwell search --recipe recipes/search_mnist1d_mlp.toml
    trainwell search --recipe R --space space.toml --strategy coarse-to-fine --stages 64x500,16x2000
    trainwell search --recipe R --workers 2                      # two local worker processes
    trainwell search --recipe R --storage postgresql://u@db/optuna --study-name lr-wd   # on each machine

Writes into the search directory (--out, default searches/<recipe>-<strategy>): study.journal (the
Optuna study, unless --storage), trials/<slot>/ (each trial's config, metrics, summary),
trials.jsonl, best.toml (the best configuration as a recipe for `trainwell train`), search.json
and search.html. Run the same command again to resume a stopped search.

Vectorized trials (--vectorize auto, the default): when the space only varies optim.lr,
optim.weight_decay, optim.options.momentum and model.dropout and the recipe has nothing that
`train_many` does not support (BatchNorm, augmentation, label smoothing, penalties, EMA, ...), the
trials of a stage train together as one batched model; otherwise they run one by one through the
Trainer and the reason is printed. --vectorize on refuses (exit 2, naming what is unsupported)
instead of falling back; --vectorize off always uses the Trainer.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from trainwell.commands.common import add_recipe_args
from trainwell.errors import UserError

HELP = "hyperparameter search (random / grid / coarse-to-fine, log scale, Optuna study, many trials at once)"


def add_args(p: argparse.ArgumentParser) -> None:
    add_recipe_args(p)
    p.add_argument("--space", type=Path, help="TOML file with the space ([search.space] or [space] table); default: the recipe's [search.space]")
    p.add_argument("--strategy", choices=["random", "grid", "coarse-to-fine"], help="default: the recipe's search.strategy, else random")
    p.add_argument("--trials", type=int, help="trials (random/grid; coarse-to-fine derives its stages from it)")
    p.add_argument("--steps", type=int, help="train.steps of each trial (coarse-to-fine: of the last stage)")
    p.add_argument("--stages", metavar="NxS,...", help="coarse-to-fine stages as TRIALSxSTEPS, e.g. 64x500,16x2000")
    p.add_argument("--top-k", type=int, help="best trials of a stage the next stage narrows around (default 4)")
    p.add_argument("--search-seed", type=int, help="seed of the sampling (the trials train with the recipe's seed)")
    p.add_argument("--workers", type=int, default=1, help="local worker processes (each with 1 thread)")
    p.add_argument("--storage", help="Optuna storage URL shared by several machines (default: a journal file in --out)")
    p.add_argument("--study-name", help="study name in the storage (default: the recipe name)")
    p.add_argument("--out", type=Path, help="search directory (default: searches/<recipe>-<strategy>)")
    p.add_argument("--vectorize", choices=["auto", "on", "off"], help="train trials as one batched model (default auto)")
    p.add_argument("--batch", type=int, default=64, help="most trials one vectorized batch trains at once")
    p.add_argument("--quiet", action="store_true", help="no live table")
    p.add_argument("--no-report", action="store_true", help="skip search.html")


def read_space(path: Path) -> dict[str, Any]:
    from trainwell.config import read_toml

    raw = read_toml(path)
    if isinstance(raw.get("search"), dict) and "space" in raw["search"]:
        return raw["search"]["space"]
    if isinstance(raw.get("space"), dict):
        return raw["space"]
    return raw


def search_table(raw: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The recipe's [search] table with the command-line options applied."""
    from trainwell.search.plan import parse_stages

    table = dict(raw.get("search") or {})
    if args.space is not None:
        table["space"] = read_space(args.space)
    for key, value in (("strategy", args.strategy), ("trials", args.trials), ("steps", args.steps),
                       ("top_k", args.top_k), ("seed", args.search_seed), ("vectorize", args.vectorize)):
        if value is not None:
            table[key] = value
    if args.stages:
        table["strategy"] = table.get("strategy") if args.strategy else "coarse-to-fine"
        table["stages"] = parse_stages(args.stages)
    if table.get("strategy") != "coarse-to-fine":
        table.pop("stages", None)
    return table


def best_recipe(raw: dict[str, Any], best: dict[str, Any], steps: int | None, name: str) -> dict[str, Any]:
    """The raw recipe of the best trial, ready for `trainwell train` (no [search] table)."""
    from trainwell.search.objective import trial_raw

    out = trial_raw(raw, best["params"], steps)
    out["name"] = f"{name}-best"
    if "checkpoint" in (raw.get("train") or {}):
        out["train"]["checkpoint"] = raw["train"]["checkpoint"]
    else:
        out["train"].pop("checkpoint", None)
    return out


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from trainwell.config import apply_override, read_recipe_raw, recipe_from_dict
    from trainwell.search import RecipeObjective, plan_from_table, run_search
    from trainwell.search.live import trials_table

    console = Console(stderr=True)
    path, raw = read_recipe_raw(args.recipe or "default")
    for assignment in list(args.set or []) + ([f"seed={args.seed}"] if args.seed is not None else []):
        apply_override(raw, assignment)
    recipe = recipe_from_dict(raw, str(path))
    plan = plan_from_table(search_table(raw, args), f"{path} [search]")
    if args.workers < 1:
        raise UserError(f"--workers must be >= 1, got {args.workers}")
    out = args.out or Path("searches") / f"{recipe.name}-{plan.strategy}"
    objective = RecipeObjective(raw, str(path))

    keys = [d.name for d in plan.space]
    batch = 1
    if plan.vectorize != "off":
        problem = objective.vectorize_problem(keys, plan.stages[0].steps)
        if problem is None:
            batch = max(args.batch, 1)
        elif plan.vectorize == "on":
            raise UserError(f"--vectorize on: these trials cannot train as one batched model: {problem}")
        else:
            console.print(f"[yellow]trials run one by one (not vectorized):[/yellow] {problem}")
    console.print(f"search: {plan.strategy}, stages {[(plan.stage_trials(i), s.steps) for i, s in enumerate(plan.stages)]} "
                  f"(trials, steps), {'vectorized' if batch > 1 else 'Trainer'} trials, {args.workers} worker(s) → {out}")
    for d in plan.space:
        console.print(f"  {d.describe()}")
    result = run_search(plan, objective, search_dir=out, storage=args.storage, study_name=args.study_name or recipe.name,
                        workers=args.workers, batch=batch, live=not args.quiet)
    return finish(out, raw, recipe.name, plan, result, console, report=not args.no_report, table=trials_table)


def finish(out: Path, raw: dict[str, Any], name: str, plan, result, console, report: bool, table) -> int:
    from rich.console import Console

    from trainwell.search import write_toml
    from trainwell.search.records import write_jsonl
    from trainwell.search.space import space_to_dict

    write_jsonl(out / "trials.jsonl", result.records)
    best = result.best
    summary = {
        "strategy": plan.strategy, "study": result.study_name, "storage": result.storage,
        "stages": [{"trials": plan.stage_trials(i), "steps": s.steps, "space": space_to_dict(sp)}
                   for i, (s, sp) in enumerate(zip(plan.stages, result.stage_spaces))],
        "trials": len(result.records), "complete": len(result.ranked),
        "failed": sum(r["state"] == "FAIL" and not r.get("interrupted") for r in result.records),
        "seconds": result.seconds, "best": best,
    }
    (out / "search.json").write_text(json.dumps(summary, indent=2, default=str))
    Console().print(table(result.records, f"trainwell search · {name} · ranked", [d.name for d in plan.space], limit=10, best_first=True))
    if best is None:
        console.print("[red]no trial completed[/red]; see the errors in trials.jsonl")
        return 1
    steps = plan.stages[best["stage"] - 1].steps
    best_path = write_toml(out / "best.toml", best_recipe(raw, best, steps, name),
                           header=f"Best configuration found by `trainwell search` ({plan.strategy}): trial {best['number']} "
                                  f"({best['slot']}), final val accuracy {100 * best['value']:.2f}%.\n"
                                  f"Train it: trainwell train --recipe {out / 'best.toml'}")
    if report:
        from trainwell.report.search_report import write_search_report

        from trainwell.search.records import other_studies

        compare = None
        others = {k: v for k, v in other_studies(result.storage, result.study_name).items()
                  if k.split(" ")[0] in ("random", "grid") and k.split(" ")[0] != plan.strategy}
        if plan.strategy in ("random", "grid") and others:
            compare = {f"{plan.strategy} ({result.study_name})": result.records, **others}
        page = write_search_report(out, result.records, plan.space, compare=compare)
        console.print(f"report: {page}")
    console.print(f"best: {best['params']} → val accuracy {100 * best['value']:.2f}%  ({best_path})")
    return 0
