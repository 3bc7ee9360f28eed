"""`trainwell doctor`: name the fault of a recipe or of your own model, with the fix; `--fix` applies it.

    trainwell doctor default --quick --json doctor.json         # a packaged recipe (or a TOML file)
    trainwell doctor path/to/model.py:make --json doctor.json   # your model and data (see user_code.py)
    trainwell doctor my_recipe.toml --fix --max-steps 3         # repair: writes DIR/NAME.fixed.toml

Exit status 0 unless a check fails (1); user errors exit 2 (see trainwell.cli). Nothing is
loaded that the target does not name (a Python setup brings its own data).
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

from trainwell.commands.common import add_recipe_args, load_recipe_arg

HELP = "diagnose a recipe or a model (file.py:make): the fault, its evidence and the fix; --fix repairs a recipe"


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", nargs="?", metavar="RECIPE | FILE.py[:make]",
                   help="a recipe (packaged name or TOML file) or your Python file whose make() returns (model, "
                        "train, val) or a dict with model, train, val, loss, optimizer (default: the default recipe)")
    add_recipe_args(p)
    p.add_argument("--json", type=Path, metavar="FILE", help="write the diagnosis (findings, scores) as JSON")
    p.add_argument("--out", type=Path, default=Path("doctor"), help="folder for doctor.html, its plots and a fixed "
                                                                     "recipe (default ./doctor)")
    p.add_argument("--quick", action="store_true", help="smaller budgets (fewer examples and steps), same thresholds")
    p.add_argument("--steps", type=int, metavar="N", help="cap every loop of the doctor at N steps (a smoke run; verdicts "
                                                         "on so few steps are not meaningful)")
    p.add_argument("--no-report", action="store_true", help="skip doctor.html")
    p.add_argument("--fix", action="store_true", help="apply the prescriptions to a copy of the recipe, keep each only "
                                                      "if its fault went away, write the repaired recipe")
    p.add_argument("--max-steps", type=int, default=3, metavar="N", help="--fix: at most N repair attempts (default 3)")
    p.add_argument("--all", action="store_true", help="also list the checks that passed")


def is_python_target(target: str | None) -> bool:
    if not target:
        return False
    path = target.rpartition(":")[0] if ":" in target and not target.endswith(".py") else target
    return path.endswith(".py")


def _config(args: argparse.Namespace, seed: int):
    from trainwell.doctor import DoctorConfig
    from trainwell.errors import UserError

    cfg = DoctorConfig(seed=seed)
    if args.quick:
        cfg = cfg.quick()
    if args.steps is not None:
        if args.steps < 2:
            raise UserError(f"doctor: --steps must be ≥ 2, got {args.steps}")
        cfg = cfg.capped(args.steps)
    if args.max_steps < 1:
        raise UserError(f"doctor: --max-steps must be ≥ 1, got {args.max_steps}")
    return cfg


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from trainwell.errors import UserError

    if args.target and args.recipe:
        raise UserError(f"doctor: give the target once — {args.target!r} or --recipe {args.recipe!r}, not both")
    console = Console()
    if is_python_target(args.target):
        if args.set:
            raise UserError("doctor: --set overrides recipe keys; a Python setup is configured in its own code")
        return _run_python(args, console)
    args.recipe = args.recipe or args.target
    recipe = load_recipe_arg(args)
    cfg = _config(args, recipe.seed)
    from trainwell.doctor import diagnose

    with console.status("doctor") as status:
        d = diagnose(recipe, cfg, progress=lambda stage: status.update(f"doctor · {recipe.name} · {stage}"))
    _show(console, d, args)
    if args.fix:
        _fix(console, recipe, cfg, d, args)
    return d.exit_code


def _run_python(args: argparse.Namespace, console) -> int:
    from trainwell.commands.user_code import load_user_setup
    from trainwell.doctor import doctor

    setup = load_user_setup(args.target)
    cfg = _config(args, args.seed or 0)
    with console.status("doctor") as status:
        d = doctor(setup.model, setup.train, setup.val, loss=setup.loss, optimizer=setup.optimizer, budget=cfg,
                   name=setup.source, progress=lambda stage: status.update(f"doctor · {setup.source} · {stage}"))
    _show(console, d, args)
    if args.fix:
        from trainwell.doctor.fix import code_changes

        changes = code_changes(d)
        console.print("[b]--fix[/b]: a Python setup is not edited; the code changes, causes first:" if changes else
                      "[b]--fix[/b]: nothing to change")
        for line in changes:
            console.print(f"  {line}")
    return d.exit_code


def _show(console, d, args: argparse.Namespace) -> None:
    from trainwell.report.doctor_report import rich_table

    record = d.to_json()
    console.print(f"[b]trainwell doctor · {d.subject['name']}[/b]")
    console.print(rich_table(record, show_passes=args.all))
    counts = {s: sum(f.severity == s for f in d.findings) for s in ("fail", "warn", "info", "pass")}
    cpu = sum(t["cpu_s"] for t in d.timings.values())
    wall = sum(t["wall_s"] for t in d.timings.values())
    console.print(f"{counts['fail']} fail · {counts['warn']} warn · {counts['info']} info · {counts['pass']} pass "
                  f"({wall:.1f} s, {cpu:.1f} s CPU)")
    if args.json:
        from trainwell.io import atomic_write_json

        small = {k: v for k, v in record.items() if k not in ("stats",)}
        atomic_write_json(args.json, small)
        console.print(f"wrote {args.json}")
    if not args.no_report:
        from trainwell.report.doctor_report import write_doctor_report

        page = write_doctor_report(record, args.out)
        console.print(f"wrote {page}")


def _fmt(v) -> str:
    if isinstance(v, float):
        return "—" if not math.isfinite(v) else f"{v:.3g}"
    return "—" if v is None else str(v)


def _fix(console, recipe, cfg, d, args: argparse.Namespace) -> None:
    from rich.table import Table

    from trainwell.doctor.finding import toml_value
    from trainwell.doctor.fix import fix_recipe, recipe_toml
    from trainwell.io import atomic_write_text

    with console.status("doctor --fix") as status:
        result = fix_recipe(recipe, cfg, max_steps=args.max_steps, diagnosis=d,
                            progress=lambda stage: status.update(f"doctor --fix · {stage}"))
    table = Table(title="--fix: each attempt, kept only if its finding went away", title_justify="left")
    for col in ("finding", "edit", "kept", "why", "val acc before → after", "top finding after"):
        table.add_column(col, overflow="fold")
    for s in result.steps:
        edit = " ".join(f"--set {k}={toml_value(v)}" for k, v in s.edits.items())
        table.add_row(s.finding, edit, "yes" if s.kept else "no", s.reason,
                      f"{_fmt(s.before['val_accuracy'])} → {_fmt(s.after['val_accuracy'])}", _fmt(s.after["top"]))
    console.print(table)
    if not result.steps:
        console.print("--fix: no prescription edits the recipe (the fault is in the data or the code; see above)")
    if result.changed:
        path = args.out / f"{recipe.name}.fixed.toml"
        args.out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, recipe_toml(result.recipe))
        from trainwell.doctor.fix import figures

        b, a = figures(result.before), figures(result.after)
        console.print(f"before: {_fmt(b['top'])}, validation accuracy {_fmt(b['val_accuracy'])}; after: "
                      f"{_fmt(a['top']) if a['top'] else 'no fault found'}, validation accuracy {_fmt(a['val_accuracy'])}")
        console.print(f"wrote the repaired recipe {path} (edits: "
                      + " ".join(f"--set {k}={toml_value(v)}" for k, v in result.edits.items()) + ")")
