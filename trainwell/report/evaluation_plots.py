"""Plots of `trainwell evaluate`: the confusion matrix and the reliability diagram (plain records in)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_evaluation(report: dict[str, Any], names: list[str], path: str | Path, title: str = "") -> Path:
    """One PNG: the row-normalized confusion matrix (counts written in) and the reliability diagram."""
    import numpy as np

    confusion = np.asarray(report["confusion"], dtype=float)
    rows = confusion.sum(1, keepdims=True)
    share = np.divide(confusion, rows, out=np.zeros_like(confusion), where=rows > 0)
    c = len(names)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(5 + 0.35 * c + 4.5, 4.6), gridspec_kw={"width_ratios": [1.3, 1]})
    ax1.imshow(share, vmin=0, vmax=1, cmap="Blues")
    ax1.set_xticks(range(c), names, rotation=90 if c > 6 else 0)
    ax1.set_yticks(range(c), names)
    ax1.set_xlabel("predicted")
    ax1.set_ylabel("true")
    ax1.set_title(f"confusion (accuracy {100 * report['accuracy']:.2f}%)")
    if c <= 20:
        for i in range(c):
            for j in range(c):
                if confusion[i, j]:
                    ax1.text(j, i, f"{int(confusion[i, j])}", ha="center", va="center", fontsize=7,
                             color="white" if share[i, j] > 0.5 else "black")
    bins = [b for b in report["reliability"] if b["count"]]
    ax2.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect calibration")
    if bins:
        ax2.bar([(b["low"] + b["high"]) / 2 for b in bins], [b["accuracy"] for b in bins],
                width=[b["high"] - b["low"] for b in bins], alpha=0.6, edgecolor="black", label="accuracy")
        ax2.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o", color="C1", markersize=3,
                 label="(confidence, accuracy)")
    ax2.set_xlim(0, 1)
    ax2.set_ylim(0, 1)
    ax2.set_xlabel("confidence (max probability)")
    ax2.set_ylabel("accuracy")
    ax2.set_title(f"reliability (ECE {100 * report['ece']:.2f}%)")
    ax2.legend(loc="upper left", fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


__all__ = ["plot_evaluation"]
