"""`trainwell search`: hyperparameter search over a recipe on Optuna (samplers, pruners, storages).

    trainwell search --recipe search_mnist1d_mlp
    trainwell search --recipe R --sampler tpe --pruner median --trials 64
    trainwell search --recipe R --space space.toml --strategy coarse-to-fine --stages 64x500,16x2000
    trainwell search --recipe R --workers 2                      # two local worker processes
    trainwell search --recipe R --storage postgresql://u@db/optuna --study-name lr-wd   # on each machine

Writes into the search directory (--out, default searches/<recipe>-<sampler>): study.journal (the
Optuna studies, unless --storage), trials/stage<S>-<NNNN>/ (each trial's config, metrics, summary),
trials.jsonl, best.toml (the best trial of the last stage as a recipe for `trainwell train`, with
that stage's budget), search.json (with the compute that pruning saved) and search.html. Run the
same command again to resume a stopped search. A storage password never appears in what it prints
or writes (``postgresql://user:***@host/db``); ``TRAINWELL_STORAGE`` can hold the URL instead of
--storage.

Vectorized trials (--vectorize auto, the default): when the space only varies optim.lr,
optim.weight_decay, optim.options.momentum and model.dropout, no pruner is set and the recipe has
nothing that `train_many` does not support (BatchNorm, augmentation, label smoothing, penalties,
EMA, ...) and vectorizing is faster on this device (`trainwell.vectorized.choose_engine`: on a
CPU nets without convolutions, measured 1.3-6.0×, and ConvNets in batches of 16 or more), the
trials of a stage train in batches as one model; either way the reason is printed. --vectorize on
refuses (exit 2, naming what is unsupported) instead of falling back, and vectorizes where the
rule expects no gain too; --vectorize off always uses the Trainer.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from trainwell.commands.common import add_recipe_args
from trainwell.errors import UserError

HELP = "hyperparameter search on Optuna (random / grid / TPE / CMA-ES, pruning, coarse-to-fine, many trials at once)"


def add_args(p: argparse.ArgumentParser) -> None:
    add_recipe_args(p)
    p.add_argument("--space", type=Path, help="TOML file with the space ([search.space] or [space] table); default: the recipe's [search.space]")
    p.add_argument("--sampler", choices=["random", "grid", "tpe", "cmaes"], help="default: the recipe's search.sampler, else random")
    p.add_argument("--pruner", choices=["none", "median", "hyperband"], help="stop poor trials early (default: none)")
    p.add_argument("--objective", choices=["accuracy", "val_loss"], help="maximize final val accuracy (default) or minimize final val loss")
    p.add_argument("--no-hopeless", action="store_true", help="with a pruner: do not also stop diverged / not learning / at-chance trials")
    p.add_argument("--strategy", choices=["random", "grid", "coarse-to-fine"], help="coarse-to-fine: two stages from --trials/--steps (random/grid: same as --sampler)")
    p.add_argument("--trials", type=int, help="trials (coarse-to-fine derives its stages from it)")
    p.add_argument("--steps", type=int, help="train.steps of each trial (coarse-to-fine: of the last stage)")
    p.add_argument("--stages", metavar="NxS,...", help="coarse-to-fine stages as TRIALSxSTEPS, e.g. 64x500,16x2000")
    p.add_argument("--top-k", type=int, help="best trials of a stage the next stage narrows around (default 4)")
    p.add_argument("--search-seed", type=int, help="seed of the sampling, 0 <= seed < 2**32 (the trials train with the recipe's seed)")
    p.add_argument("--workers", type=int, default=1, help="local worker processes (each with 1 thread)")
    p.add_argument("--storage", help="Optuna storage URL shared by several machines, e.g. postgresql://user@host/db "
                                     "(default: $TRAINWELL_STORAGE, else a journal file in --out)")
    p.add_argument("--study-name", help="study name in the storage (default: the recipe name)")
    p.add_argument("--out", type=Path, help="search directory (default: searches/<recipe>-<sampler>)")
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
    from trainwell.search.plan import SEED_MAX, parse_stages

    if args.search_seed is not None and not 0 <= args.search_seed <= SEED_MAX:
        raise UserError(f"--search-seed must be an integer in [0, 2**32 - 1] = [0, {SEED_MAX}], got {args.search_seed}")
    table = dict(raw.get("search") or {})
    if args.space is not None:
        table["space"] = read_space(args.space)
    if args.strategy in ("random", "grid"):
        table.pop("sampler", None)
    for key, value in (("strategy", args.strategy), ("sampler", args.sampler), ("pruner", args.pruner),
                       ("objective", args.objective), ("trials", args.trials), ("steps", args.steps),
                       ("top_k", args.top_k), ("seed", args.search_seed), ("vectorize", args.vectorize)):
        if value is not None:
            table[key] = value
    if args.sampler is not None and table.get("strategy") in ("random", "grid"):
        table.pop("strategy")
    if args.no_hopeless:
        table["hopeless"] = False
    if args.stages:
        table["strategy"] = "coarse-to-fine"
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
    from trainwell.io import check_writable
    from trainwell.search import RecipeObjective, plan_from_table, run_search
    from trainwell.search.redact import mask_url
    from trainwell.search.storage import storage_from_env

    console = Console(stderr=True)
    path, raw = read_recipe_raw(args.recipe or "default")
    for assignment in list(args.set or []) + ([f"seed={args.seed}"] if args.seed is not None else []):
        apply_override(raw, assignment)
    recipe = recipe_from_dict(raw, str(path))
    plan = plan_from_table(search_table(raw, args), f"{path} [search]")
    if args.workers < 1:
        raise UserError(f"--workers must be >= 1, got {args.workers}")
    if args.batch < 1:
        raise UserError(f"--batch must be >= 1, got {args.batch}")
    suffix = "-coarse-to-fine" if len(plan.stages) > 1 else ""
    out = check_writable(args.out or Path("searches") / f"{recipe.name}-{plan.sampler}{suffix}", "search folder (--out)")
    storage = storage_from_env(args.storage)
    objective = RecipeObjective(raw, str(path))

    keys = [d.name for d in plan.space]
    batch = 1
    if plan.vectorize != "off":
        problem = objective.vectorize_problem(keys, plan.stages[0].steps, plan.pruner)
        if problem is None:
            choice = objective.vectorize_choice(min(args.batch, plan.stage_trials(0)), plan.stages[0].steps)
            if choice.vectorize or plan.vectorize == "on":
                batch = args.batch
                console.print(f"trials vectorized: {choice.reason}")
            else:
                console.print(f"[yellow]trials run one by one (vectorizing is not faster here):[/yellow] {choice.reason}")
        elif plan.vectorize == "on":
            raise UserError(f"--vectorize on: these trials cannot train as one batched model: {problem}")
        else:
            console.print(f"[yellow]trials run one by one (not vectorized):[/yellow] {problem}")
    stages = [(plan.stage_trials(i), s.steps) for i, s in enumerate(plan.stages)]
    console.print(f"search: sampler {plan.sampler}, pruner {plan.pruner}, objective {plan.objective}, stages {stages} "
                  f"(trials, steps), {'vectorized' if batch > 1 else 'Trainer'} trials, {args.workers} worker(s) → {out}"
                  + (f", storage {mask_url(storage)}" if storage else ""))
    for d in plan.space:
        console.print(f"  {d.describe()}")
    result = run_search(plan, objective, search_dir=out, storage=storage, study_name=args.study_name or recipe.name,
                        workers=args.workers, batch=batch, live=not args.quiet)
    others = {}
    if not args.no_report and len(plan.stages) == 1:
        from trainwell.search.runner import other_searches
        from trainwell.search.storage import default_storage

        others = other_searches(storage or default_storage(out), result.study_name)
    return finish(out, raw, recipe.name, plan, result, console, report=not args.no_report, storage=storage, others=others)


def summary_of(plan, result) -> dict[str, Any]:
    """search.json: the plan, the stages, counts, the compute saved by pruning, the best trial."""
    from trainwell.search.runner import stage_study_name
    from trainwell.search.space import space_to_dict

    records = result.records
    return {
        "sampler": plan.sampler, "pruner": plan.pruner, "objective": plan.objective, "direction": plan.direction,
        "hopeless": plan.hopeless, "seed": plan.seed, "study": result.study_name, "storage": result.storage,
        "stages": [{"stage": i + 1, "trials": plan.stage_trials(i, sp), "steps": s.steps, "space": space_to_dict(sp),
                    "study": stage_study_name(result.study_name, i + 1)}
                   for i, (s, sp) in enumerate(zip(plan.stages, result.stage_spaces))],
        "trials": len(records),
        "complete": sum(r["state"] == "COMPLETE" for r in records),
        "pruned": sum(r["state"] == "PRUNED" for r in records),
        "failed": sum(r["state"] == "FAIL" and not r.get("retried") for r in records),
        "retried": sum(bool(r.get("retried")) for r in records),
        "compute": result.compute,
        "seconds": result.seconds,
        "best_from_stage": len(plan.stages),
        "best": result.best,
    }


def finish(out: Path, raw: dict[str, Any], name: str, plan, result, console, report: bool, storage: str | None = None,
           others: dict[str, list[dict[str, Any]]] | None = None) -> int:
    """Write trials.jsonl, search.json, best.toml and search.html (compared with `others`, other
    searches of the storage), every text masked by the storage's `Redactor`; print the ranked table."""
    from rich.console import Console

    from trainwell.io import atomic_write_text
    from trainwell.search.live import trials_table
    from trainwell.search.records import write_jsonl
    from trainwell.search.redact import Redactor
    from trainwell.toml_text import dumps

    redact = Redactor(storage)

    def masked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:  # nothing leaks into files
        return [json.loads(redact(json.dumps(r, default=str))) for r in rows]

    records = masked(result.records)
    result.records = records
    write_jsonl(out / "trials.jsonl", records)
    best = result.best
    atomic_write_text(out / "search.json", redact(json.dumps(summary_of(plan, result), indent=2, default=str)) + "\n")
    Console().print(trials_table(records, f"trainwell search · {name} · ranked (stage {len(plan.stages)})",
                                 [d.name for d in plan.space], limit=10, best_first=True, direction=plan.direction,
                                 metric=plan.objective))
    c = result.compute
    if c["pruned"]:
        console.print(f"pruning: {c['pruned']} trial(s) stopped early ({c['pruned_hopeless']} hopeless); "
                      f"{c['steps_run']} of {c['steps_budgeted']} budgeted steps run ({100 * c['saved']:.0f}% saved)")
    if best is None:
        console.print("[red]no trial of the last stage completed[/red]; see the errors in trials.jsonl")
        return 1
    steps = plan.stages[-1].steps
    figure = (f"final val loss {best['value']:.4f}" if plan.objective == "val_loss"
              else f"final val accuracy {100 * best['value']:.2f}%")
    text = dumps(best_recipe(raw, best, steps, name),
                 header=f"Best configuration found by `trainwell search` ({plan.strategy}, {plan.objective}): trial "
                        f"{best['trial']} of the last stage ({steps if steps is not None else 'recipe'} steps), {figure}.\n"
                        f"Train it: trainwell train --recipe {out / 'best.toml'}")
    best_path = atomic_write_text(out / "best.toml", redact(text))
    if report:
        from trainwell.report.search_report import write_search_report

        compare = None
        others = {k: masked(v) for k, v in (others or {}).items()}
        if others:
            compare = {f"{plan.sampler} ({result.study_name})": records, **others}
        page = write_search_report(out, records, plan.space, compare=compare, compute=c, direction=plan.direction,
                                   metric=plan.objective)
        console.print(f"report: {page}")
    console.print(f"best: {best['params']} → {figure}  ({best_path})")
    return 0
