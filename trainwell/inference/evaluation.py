"""A trained classifier examined on labelled data: the figures people look at, from torchmetrics.

    report = classification_report(probs, y, num_classes)
    report["accuracy"], report["per_class_accuracy"], report["confusion"], report["ece"]

| figure              | definition                                                                   |
|---------------------|------------------------------------------------------------------------------|
| accuracy            | fraction of examples whose most probable class is the label                  |
| per_class_accuracy  | recall of each class: correct / examples of that class                       |
| confusion           | C×C counts, row = true class, column = predicted class                       |
| ece                 | expected calibration error, 15 equal-width confidence bins, Σ_b n_b/n·|acc_b − conf_b| (Guo et al. 2017) |
| f1_macro            | mean over classes of 2·precision·recall/(precision + recall)                 |
| auroc_macro         | mean over classes of the one-vs-rest ROC AUC (classes present in y only)     |
| nll                 | mean −log p(label)                                                           |
| majority_rate       | accuracy of always answering the most frequent class (what chance means here)|
"""
from __future__ import annotations

from typing import Any

import torch

from trainwell.errors import UserError


def classification_report(probs: torch.Tensor, y: torch.Tensor, num_classes: int, n_bins: int = 15,
                          source: str = "the data") -> dict[str, Any]:
    """The figures of the module docstring for class probabilities `probs` (N×C) and labels `y` (N)
    (`source`, e.g. the file they come from, names them in errors)."""
    from torchmetrics.functional.classification import (
        multiclass_auroc,
        multiclass_calibration_error,
        multiclass_confusion_matrix,
        multiclass_f1_score,
    )

    probs, y = probs.detach().float().cpu(), y.detach().long().cpu()
    if probs.dim() != 2 or probs.shape[1] != num_classes:
        raise UserError(f"expected probabilities N×{num_classes}, got shape {tuple(probs.shape)}")
    if len(y) != len(probs):
        raise UserError(f"{source}: {len(probs)} predictions but {len(y)} labels")
    if len(y) == 0:
        raise UserError(f"{source}: no labelled examples to evaluate")
    if int(y.min()) < 0 or int(y.max()) >= num_classes:
        raise UserError(f"{source}: labels must be in [0, {num_classes}) (the run's classes), "
                        f"found {int(y.min())}..{int(y.max())}")
    confusion = multiclass_confusion_matrix(probs, y, num_classes=num_classes)
    support = confusion.sum(1)
    per_class = torch.where(support > 0, confusion.diag().double() / support.clamp(min=1), torch.nan)
    present = support > 0
    auroc = float("nan")
    if int(present.sum()) >= 2:
        auroc_all = multiclass_auroc(probs, y, num_classes=num_classes, average=None)
        auroc = float(auroc_all[present].mean())
    nll = float(-torch.log(probs.gather(1, y[:, None]).clamp_min(1e-12)).mean())
    return {
        "examples": len(y),
        "accuracy": float((probs.argmax(1) == y).double().mean()),
        "per_class_accuracy": [None if v != v else float(v) for v in per_class.tolist()],
        "support": support.tolist(),
        "confusion": confusion.tolist(),
        "ece": float(multiclass_calibration_error(probs, y, num_classes=num_classes, n_bins=n_bins, norm="l1")),
        "ece_bins": n_bins,
        "reliability": reliability(probs, y, n_bins),
        "f1_macro": float(multiclass_f1_score(probs, y, num_classes=num_classes, average="macro")),
        "auroc_macro": auroc,
        "nll": nll,
        "majority_rate": float(support.max()) / len(y),
    }


def reliability(probs: torch.Tensor, y: torch.Tensor, n_bins: int = 15) -> list[dict[str, float]]:
    """Per confidence bin (equal width on [0, 1]): count, mean confidence, accuracy (the reliability diagram)."""
    conf, pred = probs.max(1)
    correct = (pred == y).double()
    edges = torch.linspace(0, 1, n_bins + 1, dtype=torch.float64)
    which = torch.bucketize(conf.double(), edges[1:-1], right=True)
    out = []
    for b in range(n_bins):
        m = which == b
        n = int(m.sum())
        out.append({"low": float(edges[b]), "high": float(edges[b + 1]), "count": n,
                    "confidence": float(conf.double()[m].mean()) if n else None,
                    "accuracy": float(correct[m].mean()) if n else None})
    return out


__all__ = ["classification_report", "reliability"]
