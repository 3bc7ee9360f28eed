"""Predictions of a trained run on new inputs: class, class name and probabilities per example.

    trained = load_trained("runs/mnist1d-cnn")
    preds = predict(trained, x_raw)          # the run's own fitted preprocessing is applied
    write_csv(preds, "preds.csv")

The inputs must have the run's example shape (channel-last image arrays are moved to channel-first
when that is the only reading that fits, and the move is stated).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainwell.assemble.load import Trained
from trainwell.errors import UserError


@dataclass
class Predictions:
    task: str
    outputs: torch.Tensor            # probabilities (classification/multilabel) or values (regression)
    labels: torch.Tensor | None       # predicted class per example (classification)
    names: list[str]
    notes: list[str] = field(default_factory=list)


def fit_shape(x: np.ndarray | torch.Tensor, shape: tuple[int, ...] | None,
              source: str = "the inputs") -> tuple[torch.Tensor, list[str]]:
    """`x` as float32 N×shape: as it is, flattened rows reshaped, or channel-last moved to channel-first.
    `source` (a file name) starts the error message when they fit none of these."""
    t = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    notes: list[str] = []
    if shape is None or tuple(t.shape[1:]) == tuple(shape):
        return t, notes
    n = len(t)
    if t[0].numel() == int(np.prod(shape)) and t.dim() == 2:
        notes.append(f"flat rows of {t.shape[1]} values reshaped to {tuple(shape)}")
        return t.reshape(n, *shape), notes
    if t.dim() == len(shape) + 1 and len(shape) >= 2 and tuple(t.shape[1:]) == tuple(shape[1:]) + (shape[0],):
        notes.append(f"channel-last inputs {tuple(t.shape[1:])} moved to channel-first {tuple(shape)}")
        return t.movedim(-1, 1).contiguous(), notes
    raise UserError(f"{source}: examples of shape {tuple(t.shape[1:])}, but the model was trained on {tuple(shape)}")


def predict(trained: Trained, x: Any, batch_size: int = 1024, source: str = "the inputs") -> Predictions:
    """Class probabilities and labels (or values) of `trained` on raw inputs `x` (from `source`)."""
    xt, notes = fit_shape(x, trained.input_shape, source)
    if not bool(torch.isfinite(xt).all()):
        raise UserError(f"{source}: the inputs contain {int((~torch.isfinite(xt)).sum())} NaN/Inf value(s)")
    out = trained.predict_proba(xt, batch_size)
    labels = out.argmax(-1) if trained.task.name == "classification" else None
    return Predictions(trained.task.name, out.cpu(), None if labels is None else labels.cpu(), trained.names(), notes)


def write_csv(preds: Predictions, path: str | Path) -> Path:
    """index, class, class_name, p_<name>... (classification); index, y_0... (regression)."""
    from trainwell.io import atomic_write_text

    lines = []
    out = preds.outputs
    if preds.task == "classification":
        lines.append(",".join(["index", "class", "class_name", *(f"p_{n}" for n in preds.names)]))
        for i, (c, row) in enumerate(zip(preds.labels.tolist(), out.tolist())):
            lines.append(",".join([str(i), str(c), _csv(preds.names[c]), *(f"{p:.6g}" for p in row)]))
    else:
        cols = out.reshape(len(out), -1)
        prefix = "p_" if preds.task == "multilabel" else "y_"
        names = preds.names if preds.task == "multilabel" else [str(j) for j in range(cols.shape[1])]
        lines.append(",".join(["index", *(f"{prefix}{n}" for n in names)]))
        for i, row in enumerate(cols.tolist()):
            lines.append(",".join([str(i), *(f"{v:.6g}" for v in row)]))
    return atomic_write_text(path, "\n".join(lines) + "\n")


def _csv(text: str) -> str:
    return f'"{text}"' if ("," in text or '"' in text) else text


__all__ = ["Predictions", "fit_shape", "predict", "write_csv"]
