"""`trainwell evaluate RUN`: accuracy, per-class accuracy, confusion matrix and calibration of a run.

    trainwell evaluate runs/mnist1d-cnn                          # the run's own test split
    trainwell evaluate runs/mnist1d-cnn --data labelled.npz      # a file with x and y (or a CSV with a label column)
    trainwell evaluate runs/mnist1d-cnn --data digits --weights final   # another recipe's test split

Writes OUT/evaluation.json and OUT/evaluation.png (confusion matrix, reliability diagram);
OUT defaults to the run directory.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from trainwell.errors import UserError

HELP = "evaluate a trained run: accuracy, per-class accuracy, confusion matrix, calibration (JSON + plot)"


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", type=Path, help="a run directory (or a weights file)")
    p.add_argument("--data", help="a labelled file (.npz with x, y; .csv with a label column) or a recipe whose "
                                  "test split to use (default: the run's own test split)")
    p.add_argument("--weights", default="best", help="best (default), final, ema, swa, or a weights file")
    p.add_argument("--out", type=Path, help="folder for evaluation.json and evaluation.png (default: the run directory)")


def labelled_data(args, trained):
    """Raw (x, y) to evaluate on, and where they come from."""
    import torch

    from trainwell.assemble.data import load_recipe_data

    if args.data is not None and Path(args.data).suffix.lower() in (".npz", ".npy", ".csv"):
        from trainwell.data.inputs import read_inputs

        x, y = read_inputs(args.data)
        if y is None:
            raise UserError(f"{args.data} has no labels (an array 'y', or a CSV column 'label'); evaluate needs them")
        return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y).long(), str(args.data)
    if args.data is not None:
        from trainwell.config import load_recipe

        recipe = load_recipe(args.data)
    else:
        recipe = trained.recipe
    data = load_recipe_data(recipe)
    return data.x_test, data.y_test, f"{recipe.name} test split ({data.name})"


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from trainwell.assemble.load import load_trained
    from trainwell.inference.evaluation import classification_report
    from trainwell.inference.predict import fit_shape
    from trainwell.io import atomic_write_json
    from trainwell.report.evaluation_plots import plot_evaluation

    trained = load_trained(args.run, args.weights)
    if trained.task.name != "classification":
        raise UserError(f"trainwell evaluate reports classification figures; this run's task is {trained.task.name} "
                        "(its summary.json has the test metrics of its task)")
    x, y, source = labelled_data(args, trained)
    x, notes = fit_shape(x, trained.input_shape, source)
    probs = trained.predict_proba(x)
    report = classification_report(probs, y, trained.num_classes, source=source)
    names = trained.names()
    report.update({"run": str(args.run), "weights": trained.which, "step": trained.step, "data": source,
                   "class_names": names, "notes": notes})
    out = args.out or (args.run if args.run.is_dir() else args.run.parent)
    atomic_write_json(out / "evaluation.json", report)
    plot_evaluation(report, names, out / "evaluation.png", title=f"{trained.recipe.name} · {trained.which} weights · {source}")
    console = Console()
    for note in notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    head = Table(title=f"trainwell evaluate · {trained.recipe.name} · {trained.which} weights · {source}", show_header=False)
    head.add_row("examples", str(report["examples"]))
    head.add_row("accuracy", f"{100 * report['accuracy']:.2f}%  (majority class: {100 * report['majority_rate']:.2f}%)")
    head.add_row("macro F1 · macro AUROC", f"{report['f1_macro']:.4f} · {report['auroc_macro']:.4f}")
    head.add_row("calibration (ECE, 15 bins) · NLL", f"{100 * report['ece']:.2f}% · {report['nll']:.4f}")
    console.print(head)
    per = Table(title="per class")
    for col in ("class", "name", "examples", "accuracy %", "most confused with"):
        per.add_column(col)
    for c, name in enumerate(names):
        row = list(report["confusion"][c])
        row[c] = -1
        other = max(range(len(row)), key=lambda j: row[j])
        acc = report["per_class_accuracy"][c]
        confused = f"{names[other]} ({row[other]})" if row[other] > 0 else "—"
        per.add_row(str(c), name, str(report["support"][c]), "—" if acc is None else f"{100 * acc:.1f}", confused)
    console.print(per)
    console.print(f"wrote {out / 'evaluation.json'} and {out / 'evaluation.png'}")
    return 0
