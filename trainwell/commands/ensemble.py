"""`trainwell ensemble`: an ensemble of a recipe (independent seeds or snapshots) or averaged
weights (EMA/SWA), compared with the single models in one table.

    trainwell ensemble --recipe ensemble_mnist1d --members 5
    trainwell ensemble --recipe ensemble_snapshot --method snapshot
    trainwell ensemble --recipe R --method swa --swa-start 0.75 --tta flip

Independent/snapshot runs write OUT/ensemble.pt (one file: `Ensemble.load`), OUT/result.json and
OUT/report.html; ema/swa write OUT/result.json. OUT/job.json (written first) holds the resolved recipe
and the arguments, so a killed run continues with `trainwell ensemble --resume OUT`: finished members
are kept, a member trained one by one continues from its last checkpoint (members trained as one
vectorized model start again: they keep no checkpoint), and the result equals an uninterrupted run.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from trainwell.commands.common import add_recipe_args, check_range, load_recipe_arg, new_output_folder

HELP = "ensemble a recipe (independent seeds, snapshots) or average its weights (EMA/SWA)"
METHODS = ("independent", "snapshot", "ema", "swa")
MAX_MEMBERS = 10_000  # more is a typo: each member is a full model


def add_args(p: argparse.ArgumentParser) -> None:
    add_recipe_args(p)
    p.add_argument("--method", choices=METHODS, default="independent",
                   help="independent: K seeds; snapshot: one run with cosine restarts; ema/swa: averaged weights")
    p.add_argument("--members", type=int, default=5, help="independent ensemble size (default 5)")
    p.add_argument("--engine", choices=("auto", "vectorized", "one_by_one"), default="auto",
                   help="auto: all members as one vectorized model when the recipe allows it and it is faster, "
                        "else one by one")
    p.add_argument("--cycles", type=int, help="snapshot: use cosine_restarts with this many cycles")
    p.add_argument("--decay", type=float, default=0.99, help="ema: decay (default 0.99)")
    p.add_argument("--swa-start", type=float, default=0.75, help="swa: average from this fraction of the run on")
    p.add_argument("--tta", help='test-time augmentation spec, e.g. flip or \'{name="shift", shifts=[-2,0,2]}\' '
                   "(default: the recipe's augment.tta)")
    p.add_argument("--out", type=Path, help="output directory (default: runs/<recipe name>-<method>, never overwriting)")
    p.add_argument("--resume", type=Path, metavar="OUT",
                   help="continue a killed independent/snapshot ensemble in OUT with its own recipe and arguments")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _tta(args) -> Any:
    if args.tta is None:
        return None
    from trainwell.config import parse_value

    return parse_value(args.tta)


def run(args: argparse.Namespace) -> int:
    from trainwell.assemble import new_run_dir

    if args.method == "independent":
        check_range(args.members, "--members", 1, MAX_MEMBERS)
    if args.method == "ema":
        check_range(args.decay, "--decay", 0, 1)
    if args.method == "swa":
        check_range(args.swa_start, "--swa-start", 0, 1)
    if args.method == "snapshot" and args.cycles is not None:
        check_range(args.cycles, "--cycles", 1, MAX_MEMBERS)
    from trainwell.io import RunLock

    if args.resume is not None:
        recipe, out = _resumed(args)
    else:
        out = new_output_folder(args.out) if args.out is not None else None  # refused before the recipe loads
        recipe = load_recipe_arg(args)
        out = out or new_output_folder(new_run_dir(Path("runs"), f"{recipe.name}-{args.method}"))
    with RunLock(out, "ensemble folder"):
        if args.resume is None and args.method in ("independent", "snapshot"):
            _write_json(out / JOB, _job(recipe, args))
        return _train(args, recipe, out)


JOB = "job.json"
JOB_ARGS = ("method", "members", "engine", "cycles", "tta")


def _job(recipe, args) -> dict[str, Any]:
    from trainwell.config import recipe_to_dict

    return {"format": "trainwell-ensemble-job-1", "recipe": recipe_to_dict(recipe),
            "args": {k: getattr(args, k) for k in JOB_ARGS}}


def _resumed(args: argparse.Namespace):
    """(recipe, out) of the killed ensemble in --resume OUT; its arguments are put back into `args`."""
    import json

    from trainwell.config import recipe_from_dict
    from trainwell.errors import UserError
    from trainwell.io import regular_file

    out = Path(args.resume)
    if args.recipe is not None or args.set or args.seed is not None or args.out is not None:
        raise UserError("--resume continues an ensemble with its own recipe and output folder: "
                        "drop --recipe, --set, --seed and --out")
    if (out / "ensemble.pt").exists():
        raise UserError(f"{out} holds a finished ensemble (ensemble.pt); nothing to resume")
    job_file = out / JOB
    if not job_file.exists():
        raise UserError(f"--resume {out}: no {JOB} there (only independent and snapshot ensembles can be resumed, "
                        "from the folder they were started in)")
    try:
        job = json.loads(regular_file(job_file, "the ensemble's job file").read_text())
        recipe = recipe_from_dict(job["recipe"], f"{job_file} (recipe)")
        for key in JOB_ARGS:
            setattr(args, key, job["args"][key])
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{job_file} is damaged ({exc}); start the ensemble again in a new folder") from None
    return recipe, out


def _train(args: argparse.Namespace, recipe, out: Path) -> int:
    from rich.console import Console

    console = Console()
    tta = _tta(args)
    progress = not args.quiet
    if args.method in ("ema", "swa"):
        from trainwell.ensemble.averaging import train_averaged

        r = train_averaged(recipe, args.method, decay=args.decay, start_fraction=args.swa_start, progress=progress, tta=tta)
        record = {k: v for k, v in r.items() if k not in ("model", "averaged_model", "data")}
        record["recipe"] = recipe.name
        _write_json(out / "result.json", record)
        _print_averaging(console, record)
        console.print(f"result: {out / 'result.json'}")
        return 0
    if args.method == "independent":
        from trainwell.ensemble.independent import train_independent

        ens_run = train_independent(recipe, args.members, engine=args.engine, out_dir=out, progress=progress, tta=tta)
    else:
        from trainwell.ensemble.snapshot_run import train_snapshots

        ens_run = train_snapshots(recipe, args.cycles, out_dir=out, progress=progress, tta=tta)
    record = ens_run.record()
    ens_run.ensemble.save(out / "ensemble.pt", info={"method": record["method"], "seeds": record["seeds"]})
    _write_json(out / "result.json", record)
    from trainwell.report.ensemble_report import member_rows, write_ensemble_report

    report = write_ensemble_report(out)
    _print_members(console, record, member_rows(record))
    console.print(f"ensemble: {out / 'ensemble.pt'}   report: {report}")
    return 0


def _write_json(path: Path, record: dict) -> None:
    from trainwell.io import atomic_write_json

    atomic_write_json(path, record)


def _print_members(console, record: dict, rows: list[list]) -> None:
    from rich.table import Table

    s = record["scores"]
    table = Table(title=f"trainwell ensemble · {record['recipe']} · {record['method']} · {record['engine']}")
    table.add_column("model")
    table.add_column("test acc %", justify="right")
    if s.get("tta"):
        table.add_column(f"with TTA ({s['tta_spec']}) %", justify="right")
    for row in rows:
        table.add_row(*(str(c) for c in row))
    console.print(table)
    console.print(f"ensemble − mean member: {100 * s['gain']:+.2f} points; trained in {record['train_seconds']:.1f} s")
    if record.get("decision"):
        console.print(f"engine: {record['decision']}")
    for reason in record["fallback"]:
        console.print(f"[yellow]trained one by one because of:[/yellow] {reason}")
    for note in record["notes"]:
        console.print(f"[yellow]note:[/yellow] {note}")


def _print_averaging(console, r: dict) -> None:
    from rich.table import Table

    label = f"EMA (decay {r['decay']})" if r["method"] == "ema" else f"SWA (from {r['start_fraction']:.0%} of the run)"
    table = Table(title=f"trainwell ensemble · {r['recipe']} · seed {r['seed']} · {r['steps']} steps")
    table.add_column("weights")
    table.add_column("test acc %", justify="right")
    tta = "test_accuracy_tta" in r["raw"]
    if tta:
        table.add_column("with TTA %", justify="right")
    for name, key in (("raw (last step)", "raw"), (label + ", BN recomputed", "averaged")):
        row = [name, f"{100 * r[key]['test_accuracy']:.2f}"]
        if tta:
            row.append(f"{100 * r[key]['test_accuracy_tta']:.2f}")
        table.add_row(*row)
    console.print(table)
