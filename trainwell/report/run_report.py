"""The report of one training run: loss/accuracy curves (train and validation) and the LR schedule."""
from __future__ import annotations

import html
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from trainwell.report.html import images, table, write_page  # noqa: E402
from trainwell.report.records import read_jsonl, series  # noqa: E402


def _plot_splits(records: list[dict], key: str, scale: float, ylabel: str, log: bool, path: Path) -> None:
    """`key` of the train (line) and val (dots) records against the step, one PNG."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for split, style in (("train", "-"), ("val", "o-")):
        steps, values = series(records, split, key)
        if steps:
            ax.plot(steps, [scale * v for v in values], style, label=split, markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.set_title(key)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_curves(records: list[dict], out: Path) -> list[str]:
    """Write loss.png, accuracy.png and lr.png into `out`; return their names."""
    _plot_splits(records, "loss", 1.0, "cross-entropy loss", True, out / "loss.png")
    _plot_splits(records, "accuracy", 100.0, "accuracy (%)", False, out / "accuracy.png")
    names = ["loss.png", "accuracy.png"]

    steps, lrs = series(records, "train", "lr")
    positive = [(s, v) for s, v in zip(steps, lrs) if v > 0]  # log axis: an LR of exactly 0 is left out
    steps, lrs = [s for s, _ in positive], [v for _, v in positive]
    if steps:
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.plot(steps, lrs)
        ax.set_xlabel("step")
        ax.set_ylabel("learning rate")
        ax.set_yscale("log")
        ax.set_title("learning-rate schedule")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(out / "lr.png", dpi=110)
        plt.close(fig)
        names.append("lr.png")
    return names


def write_run_report(run_dir: str | Path) -> Path:
    """Write report.html (and its PNGs) into a run directory from its metrics and summary."""
    run_dir = Path(run_dir)
    records = read_jsonl(run_dir / "metrics.jsonl")
    pngs = plot_curves(records, run_dir)
    sections = []
    summary_path = run_dir / "summary.json"
    if summary_path.exists():
        summary = json.loads(summary_path.read_text())
        sections.append(("summary", table([(k, v) for k, v in summary.items()])))
    sections.append(("curves", images(pngs)))
    config_path = run_dir / "config.json"
    if config_path.exists():
        sections.append(("resolved recipe", f"<pre>{html.escape(config_path.read_text())}</pre>"))
    return write_page(run_dir / "report.html", f"trainwell run · {run_dir.name}", sections)
