"""`trainwell export RUN --format onnx|export|torchscript`: a deployable model of a run, verified.

    trainwell export runs/mnist1d-cnn --format onnx             # runs/mnist1d-cnn/model.onnx
    trainwell export runs/mnist1d-cnn --format export --out m.pt2

The file takes RAW inputs (the run's preprocessing is folded in) with BatchNorm folded into the
preceding layers. The command loads the file back, runs it on the run's test split, and prints the
largest difference from the eager model and the speed ratio (eager time / exported time).
"""
from __future__ import annotations

import argparse
from pathlib import Path

HELP = "export a run (ONNX, torch.export, TorchScript) with preprocessing and BatchNorm folded; verified"


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", type=Path, help="a run directory (or a weights file)")
    p.add_argument("--format", choices=("onnx", "export", "torchscript"), default="onnx")
    p.add_argument("--weights", default="best", help="best (default), final, ema, swa, or a weights file")
    p.add_argument("--out", type=Path, help="the file to write (default: <run>/model.<onnx|pt2|pt>)")
    p.add_argument("--data", help="inputs to verify on: a file (.npz/.npy/.csv) or a recipe (default: the run's test split)")


def run(args: argparse.Namespace) -> int:
    import torch
    from rich.console import Console
    from rich.table import Table

    from trainwell.assemble.load import load_trained
    from trainwell.commands.evaluate import labelled_data
    from trainwell.inference.export import FORMATS, export_run
    from trainwell.inference.predict import fit_shape
    from trainwell.io import atomic_write_json

    trained = load_trained(args.run, args.weights)
    if args.data is not None and Path(args.data).suffix.lower() in (".npz", ".npy", ".csv"):
        from trainwell.data.inputs import read_inputs

        x, _ = read_inputs(args.data)
        x = torch.as_tensor(x, dtype=torch.float32)
        source = str(args.data)
    else:
        x, _, source = labelled_data(args, trained)
    x, _ = fit_shape(x, trained.input_shape)
    folder = args.run if args.run.is_dir() else args.run.parent
    out = args.out or folder / f"model{FORMATS[args.format]}"
    console = Console()
    with console.status(f"exporting {trained.recipe.name} to {args.format} and verifying on {len(x)} inputs"):
        result = export_run(trained, args.format, out, x)
    atomic_write_json(out.with_name(out.name + ".json"), {**result.to_json(), "data": source, "weights": trained.which})
    table = Table(title=f"trainwell export · {trained.recipe.name} · {args.format}", show_header=False)
    table.add_row("file", str(result.path))
    table.add_row("folded in", f"preprocessing ({len(trained.pipeline) if trained.pipeline else 0} step(s)), "
                               f"{result.batchnorms_folded} BatchNorm layer(s)")
    table.add_row("max |exported − eager|", f"{result.max_abs_diff:.3g} over {result.examples} inputs ({source})")
    if result.same_predictions == result.same_predictions:
        table.add_row("same predicted class", f"{100 * result.same_predictions:.2f}%")
    table.add_row("speed (eager / exported)", f"{result.speed_ratio:.2f}× ({result.eager_ms:.2f} ms vs "
                                               f"{result.exported_ms:.2f} ms per pass, median)")
    console.print(table)
    return 0
