"""`trainwell gradcheck`: autograd against centered finite differences, per parameter, in float64.

    trainwell gradcheck                                  # the default recipe's model and loss
    trainwell gradcheck --recipe digits --json gc.json
    trainwell gradcheck --model path/to/model.py:make    # your own nn.Module (see user_code.py)

Runs `trainwell.diagnostics.gradcheck` on a float64 copy of the model with one small batch:
for each parameter (and the input) a random subset of coordinates, the relative error of the
tensor and the lectures' verdict (good ≤ 1e-7 < ok/high ≤ 1e-4 < suspicious ≤ 1e-2 < wrong).
The function checked is f = Σ r ⊙ model(x) with a random r (the model's backward in a random
output direction); `--objective loss` checks loss(model(x), y) instead. At initialization a
cross-entropy sits near log C with gradients ~1e-4, so its finite differences are ~1e6 times
coarser than the gradient (default recipe: 1.4e-6 with the loss, 7.5e-9 with the output).
The model runs in training mode when its forward is deterministic there, else in eval mode
(dropout). Exit status 1 when a tensor is suspicious or wrong, 0 otherwise; user errors exit 2.
"""
from __future__ import annotations

import argparse
import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from trainwell.commands.common import add_recipe_args, load_recipe_arg

HELP = "check a model's gradients against centered finite differences (float64), per parameter"


def add_args(p: argparse.ArgumentParser) -> None:
    add_recipe_args(p)
    p.add_argument("--model", metavar="FILE.py[:make]",
                   help="check your own model: make() returns (model, train, val) or a dict with model, train, "
                        "val and optional loss, optimizer (instead of --recipe)")
    p.add_argument("--batch", type=int, default=8, help="examples in the batch (default 8)")
    p.add_argument("--per-tensor", type=int, default=16, help="coordinates checked per tensor, drawn at random (default 16)")
    p.add_argument("--eps", type=float, default=1e-5, help="finite-difference step h (default 1e-5, float64)")
    p.add_argument("--objective", choices=("output", "loss"), default="output",
                   help="output (default): f = Σ r ⊙ model(x) with r ~ N(0, 1), the model's backward for a random "
                        "output direction; loss: f = loss(model(x), y), the recipe's loss or make()'s")
    p.add_argument("--mode", choices=("auto", "train", "eval"), default="auto",
                   help="model mode: auto = train unless its forward is random there (dropout), then eval")
    p.add_argument("--json", type=Path, metavar="FILE", help="write the per-tensor results as JSON")


@dataclass
class Target:
    """What to check: a model, one batch (x, y) and the loss, if there is one (for --objective loss)."""

    name: str
    model: Any
    x: Any
    y: Any
    loss: Callable[..., Any] | None


def recipe_target(args: argparse.Namespace) -> Target:
    """The recipe's model, its training loss and the first `--batch` training examples.

    Built through the assembly (`trainwell.assemble.from_recipe`): the same model, data and loss
    as `trainwell train`."""
    from trainwell.assemble import from_recipe

    recipe = load_recipe_arg(args)
    run = from_recipe(recipe)
    x, y = run.data.train
    return Target(name=f"recipe {recipe.name}", model=run.model, x=x[: args.batch], y=y[: args.batch], loss=run.loss)


def user_target(args: argparse.Namespace) -> Target:
    from trainwell.commands.user_code import first_batch, load_user_setup

    setup = load_user_setup(args.model)
    x, y = first_batch(setup.train, args.batch)
    device = next((t.device for t in setup.model.parameters()), x.device)
    return Target(name=setup.source, model=setup.model, x=x.to(device), y=y.to(device), loss=setup.loss)


def pick_mode(model, x, mode: str) -> tuple[str, str]:
    """("train" | "eval", why): auto takes train mode when two forward passes there agree."""
    import torch

    if mode != "auto":
        return mode, "as asked (--mode)"
    probe = copy.deepcopy(model).train()
    with torch.no_grad():
        same = torch.equal(probe(x), probe(x))
    if same:
        return "train", "its forward is deterministic in training mode"
    return "eval", "its forward is random in training mode (dropout or similar)"


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from trainwell.diagnostics.gradcheck import ACCEPTABLE, GOOD, WRONG, gradcheck
    from trainwell.errors import UserError

    if args.batch < 1 or args.per_tensor < 1 or not 0 < args.eps < 1:
        raise UserError(f"gradcheck: need --batch ≥ 1, --per-tensor ≥ 1 and 0 < --eps < 1; found {args.batch}, "
                        f"{args.per_tensor}, {args.eps}")
    if args.model and (args.recipe or args.set):
        raise UserError("gradcheck: give --model FILE.py:make or --recipe/--set, not both")
    console = Console()
    with console.status("gradcheck: building the model"):
        target = user_target(args) if args.model else recipe_target(args)
    mode, why = pick_mode(target.model, target.x, args.mode)
    model = copy.deepcopy(target.model).train(mode == "train")
    if args.objective == "loss" and target.loss is None:
        raise UserError(f"gradcheck: --objective loss, but {target.name} has no loss (return one from make() "
                        "as the dict key 'loss')")
    reduce = (lambda out: target.loss(out, target.y)) if args.objective == "loss" else None
    with console.status(f"gradcheck: {target.name}"):
        result = gradcheck(model, target.x, eps=args.eps, reduce=reduce, max_per_tensor=args.per_tensor,
                           seed=getattr(args, "seed", None) or 0)

    what = "the loss" if reduce is not None else "Σ r ⊙ output, r ~ N(0, 1)"
    table = Table(title=f"gradcheck · {target.name} · {mode} mode · batch {len(target.x)} · f = {what}")
    for col in ("layer / parameter", "shape", "checked", "|grad| scale", "max rel. error", "verdict"):
        table.add_column(col, justify="left" if col in ("layer / parameter", "verdict") else "right")
    colors = {"good": "green", "zero": "green", "ok": "green", "unchecked": "yellow", "high": "yellow",
              "suspicious": "red", "wrong": "bold red"}
    noisy = []
    for c in result.checks:
        name = c.name.removeprefix("param ")
        checked = f"{c.checked}" + (f" (+{c.kink_crossings} kink)" if c.kink_crossings else "")
        error = "—" if c.max_rel_error is None else f"{c.max_rel_error:.1e}"
        color = colors[c.verdict]
        if c.resolution is not None and c.verdict != "good" and c.max_rel_error <= 10 * c.resolution:
            noisy.append(name)
        table.add_row(name, "×".join(map(str, c.shape)) or "scalar", checked, f"{c.scale:.2e}", error,
                      f"[{color}]{c.verdict}[/{color}]")
    console.print(table)
    console.print(f"model in {mode} mode: {why}. Centered differences in float64, eps {args.eps:g}; "
                  f"resolution η = {result.noise:.1e} (a tensor with |grad| scale ≤ 10·η is 'zero').")
    if noisy:
        console.print(f"the errors of {', '.join(noisy)} are within 10× the rounding level η/|grad| scale: noise of "
                      "the finite differences, not a wrong backward; a larger --eps or --objective output resolves them.")
    if result.kinks:
        console.print(f"kinks: {', '.join(result.kinks)} — errors up to {ACCEPTABLE:g} are ok for a function with "
                      f"kinks; {result.kink_crossings} coordinate(s) whose ±eps crossed a kink were left out.")
        if result.kinks_untracked:
            console.print(f"crossings not tracked (unusual input) for: {', '.join(result.kinks_untracked)}")
    else:
        console.print(f"no kinked layers found (functional relu/max/abs inside forward() cannot be seen): errors "
                      f"above {GOOD:g} are 'high' for a smooth function.")
    console.print(f"verdicts: good ≤ {GOOD:g} < ok (kinks) / high (no kinks) ≤ {ACCEPTABLE:g} < suspicious ≤ "
                  f"{WRONG:g} < wrong. Overall: {result.verdict}"
                  + ("" if result.ok else " — a backward pass disagrees with the finite differences."))
    if args.json:
        from trainwell.io import atomic_write_json

        record = result.to_json()
        record.update({"source": target.name, "mode": mode, "batch": len(target.x),
                       "objective": args.objective})
        atomic_write_json(args.json, record)
        console.print(f"wrote {args.json}")
    return 0 if result.ok else 1
