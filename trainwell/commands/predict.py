"""`trainwell predict RUN --input FILE`: class, class name and probabilities for each input.

    trainwell predict runs/mnist1d-cnn --input new.npz --out preds.csv
    trainwell predict runs/mnist1d-cnn --input new.csv --weights ema

The run's own fitted preprocessing is applied; inputs come in the file formats training reads
(.npz with x[, y], .npy, .csv). Writes a CSV (default: <input>.predictions.csv) and prints the first rows.
"""
from __future__ import annotations

import argparse
from pathlib import Path

HELP = "predict with a trained run: class, class name and probabilities per input (CSV)"


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", type=Path, help="a run directory (or a weights file)")
    p.add_argument("--input", type=Path, required=True, help="inputs: .npz (x), .npy or .csv")
    p.add_argument("--weights", default="best", help="best (default), final, ema, swa, or a weights file")
    p.add_argument("--out", type=Path, help="CSV to write (default: <input>.predictions.csv)")
    p.add_argument("--show", type=int, default=5, help="rows to print (default 5)")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from trainwell.assemble.load import load_trained
    from trainwell.data.inputs import read_inputs
    from trainwell.inference.predict import predict, write_csv

    console = Console()
    trained = load_trained(args.run, args.weights)
    x, _ = read_inputs(args.input)
    preds = predict(trained, x, source=str(args.input))
    out = write_csv(preds, args.out or args.input.with_name(args.input.name + ".predictions.csv"))
    for note in preds.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    table = Table(title=f"trainwell predict · {trained.recipe.name} · {trained.which} weights · {len(preds.outputs)} inputs")
    if preds.task == "classification":
        for col in ("index", "class", "name", "probability"):
            table.add_column(col)
        top = preds.outputs.max(1).values.tolist()
        for i, (c, p) in enumerate(zip(preds.labels.tolist()[: args.show], top[: args.show])):
            table.add_row(str(i), str(c), preds.names[c], f"{p:.3f}")
    else:
        table.add_column("index")
        table.add_column("outputs")
        for i, row in enumerate(preds.outputs.reshape(len(preds.outputs), -1).tolist()[: args.show]):
            table.add_row(str(i), ", ".join(f"{v:.4g}" for v in row))
    console.print(table)
    console.print(f"wrote {out}")
    return 0
