"""`trainwell finetune --from RUN_OR_CHECKPOINT --recipe R`: transfer a trained model to a new task.

The source (a run directory's final.pt, or a checkpoint) rebuilds its architecture from its saved
config; the head is re-initialized for the target's classes; phase 1 trains only the head with
the backbone frozen; with --finetune-steps, phase 2 unfreezes the top --unfreeze layers (default
all) and trains them at lr × --lr-factor (default 0.1), or with --discriminative DECAY per-layer
rates. BatchNorm statistics stay frozen (eval mode) unless --train-bn.

The target recipe gives the data, optimizer, schedule, batch size and length (phase 1 = the
recipe's steps/epochs unless --head-steps); its [model] section is ignored. Inputs go through the
SOURCE model's preprocessing (the features expect it) unless --refit-preprocess.

Writes OUT/config.json, OUT/final.pt (loadable like any run's) and OUT/summary.json.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from trainwell.commands.common import add_recipe_args, check_range, load_recipe_arg, new_output_folder
from trainwell.errors import UserError

HELP = "transfer learning: new head on a trained model, train it frozen, then optionally fine-tune"


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="source", type=Path, required=True, metavar="RUN_OR_CHECKPOINT",
                   help="a run directory (final.pt) or a checkpoint file")
    add_recipe_args(p)
    p.add_argument("--head-steps", type=int, help="phase 1 steps, head only (default: the recipe's length)")
    p.add_argument("--finetune-steps", type=int, default=0, help="phase 2 steps with unfrozen layers (default 0: none)")
    p.add_argument("--unfreeze", default="all", help="phase 2: 'all' or the number of top layers to train")
    p.add_argument("--lr-factor", type=float, default=0.1, help="phase 2 LR = recipe LR × this (default 0.1)")
    p.add_argument("--discriminative", type=float, metavar="DECAY",
                   help="phase 2 per-layer LR scales DECAY^depth from the top (e.g. 0.38 = 1/2.6)")
    p.add_argument("--train-bn", action="store_true", help="let BatchNorm update its statistics (default: frozen)")
    p.add_argument("--refit-preprocess", action="store_true", help="fit preprocessing on the target data instead")
    p.add_argument("--out", type=Path, help="run directory (default: runs/<recipe name>-finetune)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def target_data(recipe, pretrained, refit: bool, device):
    """The target DataBundle, preprocessed by the source's pipeline (or refit on the target)."""
    from trainwell.assemble.data import load_recipe_data, preprocess
    from trainwell.preprocess import Pipeline

    raw = load_recipe_data(recipe)
    if refit or not pretrained.preprocess:
        data, pipeline = preprocess(raw, recipe.data.preprocess)
    else:
        pipeline = Pipeline.from_state_dict(pretrained.preprocess)
        raw.x_train, raw.x_val, raw.x_test = (pipeline.transform(t) for t in (raw.x_train, raw.x_val, raw.x_test))
        data = raw
    return data.to(device), pipeline


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from trainwell.config import MAX_STEPS, recipe_to_dict
    from trainwell.io import atomic_write_json
    from trainwell.transfer.finetune import FinetunePlan, finetune, load_pretrained
    from trainwell.train.checkpoint import save_checkpoint
    from trainwell.train.evaluate import evaluate
    from trainwell.assemble import new_run_dir, pick_device, total_steps_for

    check_range(args.finetune_steps, "--finetune-steps", 0, MAX_STEPS)
    if args.head_steps is not None:
        check_range(args.head_steps, "--head-steps", 0, MAX_STEPS)
    if not 0 < args.lr_factor <= 10:
        raise UserError(f"--lr-factor must be in (0, 10], got {args.lr_factor}")
    out = new_output_folder(args.out) if args.out is not None else None  # refused before the slow loading
    recipe = load_recipe_arg(args)
    device = pick_device(recipe.train.device)
    pretrained = load_pretrained(args.source, device=device)
    data, pipeline = target_data(recipe, pretrained, args.refit_preprocess, device)
    if pretrained.input_shape is not None and tuple(data.input_shape) != tuple(pretrained.input_shape):
        raise UserError(f"target examples have shape {tuple(data.input_shape)} but {pretrained.source} was trained on "
                        f"{tuple(pretrained.input_shape)}")
    n = len(data.x_train)
    head_steps = args.head_steps if args.head_steps is not None else total_steps_for(recipe, max(1, n // min(recipe.train.batch_size, n)))
    unfreeze = None if args.unfreeze == "all" else _int(args.unfreeze, "--unfreeze")
    plan = FinetunePlan(head_steps=head_steps, finetune_steps=args.finetune_steps, unfreeze=unfreeze,
                        lr_factor=args.lr_factor, discriminative=args.discriminative, freeze_bn=not args.train_bn)
    # the target run: the source's architecture with the target's classes
    target = recipe.model_copy(deep=True)
    target.model = dict(pretrained.recipe.model)
    out = out or new_output_folder(new_run_dir(Path("runs"), f"{recipe.name}-finetune"))
    atomic_write_json(out / "config.json", recipe_to_dict(target))
    result = finetune(pretrained.model, recipe, data, plan, progress=not args.quiet,
                      evaluate_on=(data.x_test, data.y_test))
    test = evaluate(pretrained.model, data.x_test, data.y_test)
    save_checkpoint(out / "final.pt", {"format": "trainwell-model-1", "model": pretrained.model.state_dict(),
                                       "config": recipe_to_dict(target), "preprocess": pipeline.state_dict(),
                                       "input_shape": list(data.input_shape), "num_classes": data.num_classes})
    summary = {"recipe": recipe.name, "source": pretrained.source, "test_accuracy": test["accuracy"],
               "test_loss": test["loss"], "phases": result.phases, "freeze_bn": plan.freeze_bn,
               "data": data.describe(), "run_dir": str(out)}
    atomic_write_json(out / "summary.json", summary)

    table = Table(title=f"trainwell finetune · {pretrained.source} → {recipe.name}")
    for col in ("phase", "trains", "steps", "lr", "test acc %"):
        table.add_column(col)
    for ph in result.phases:
        trains = ", ".join(ph["trainable"]) if len(ph["trainable"]) <= 4 else f"{len(ph['trainable'])} layers"
        lr = f"{ph['lr']:.3g}" + (" × per-layer scales" if ph["lr_scales"] else "")
        table.add_row(ph["phase"], trains, str(ph["steps"]), lr, f"{100 * ph['accuracy']:.2f}")
    Console().print(table)
    Console().print(f"run directory: {out}")
    return 0


def _int(text: str, flag: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UserError(f"{flag} expects 'all' or a number of layers, got {text!r}") from None
