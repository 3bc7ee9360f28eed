"""HTML report of an ensemble run (reads the plain record `result.json`, never a model).

Shows the members' test accuracies, their mean and the ensemble's in one table, and a plot of the
ensemble accuracy as members are added (`scores.growth`) against the mean member accuracy.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from trainwell.report.html import images, table, write_page  # noqa: E402


def member_rows(record: dict[str, Any]) -> list[list[Any]]:
    """Rows (name, test acc %, [TTA acc %]) for each member, the mean member and the ensemble."""
    s = record["scores"]
    tta = s.get("tta")
    labels = ([f"snapshot after step {st}" for st in record.get("snapshot_steps", [])]
              if record["method"] == "snapshot" else [f"member {k} (seed {seed})" for k, seed in enumerate(record["seeds"])])
    if len(labels) != len(s["members"]):
        labels = [f"member {k}" for k in range(len(s["members"]))]
    rows = []
    for k, (label, acc) in enumerate(zip(labels, s["members"])):
        rows.append([label, round(100 * acc, 2)] + ([round(100 * tta["members"][k], 2)] if tta else []))
    rows.append(["mean of members", round(100 * s["mean_member"], 2)] + ([round(100 * tta["mean_member"], 2)] if tta else []))
    rows.append(["ENSEMBLE (mean of probabilities)", round(100 * s["ensemble"], 2)]
                + ([round(100 * tta["ensemble"], 2)] if tta else []))
    return rows


def plot_growth(record: dict[str, Any], out: Path) -> str:
    s = record["scores"]
    k = list(range(1, len(s["growth"]) + 1))
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(k, [100 * g for g in s["growth"]], marker="o", label="ensemble of the first k")
    ax.axhline(100 * s["mean_member"], color="gray", linestyle="--", label="mean member")
    ax.set_xlabel("members k")
    ax.set_ylabel("test accuracy (%)")
    ax.set_xticks(k)
    ax.legend()
    fig.tight_layout()
    name = "ensemble_growth.png"
    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    return name


def write_ensemble_report(run_dir: str | Path) -> Path:
    """run_dir/report.html from run_dir/result.json."""
    run_dir = Path(run_dir)
    record = json.loads((run_dir / "result.json").read_text())
    header = ["model", "test acc %"] + (["with TTA %"] if record["scores"].get("tta") else [])
    how = [["method", record["method"]], ["trained by", record["engine"]], ["train seconds", round(record["train_seconds"], 1)],
           ["data", record["data"]]]
    how += [["fell back because", r] for r in record.get("fallback", [])]
    how += [["note", n] for n in record.get("notes", [])]
    sections = [("accuracy", table(member_rows(record), header)),
                ("ensemble size", images([plot_growth(record, run_dir)])),
                ("how", table(how))]
    return write_page(run_dir / "report.html", f"trainwell ensemble · {record['recipe']}", sections)


__all__ = ["member_rows", "plot_growth", "write_ensemble_report"]
