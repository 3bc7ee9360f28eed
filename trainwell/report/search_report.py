"""search.html: what a hyperparameter search found, as plots of plain trial records.

* validation accuracy against each hyperparameter (log x-axis for log-scaled ones), stage 1 and
  stage 2 (coarse / fine) in different markers — where the good region is and how the fine stage
  zoomed into it;
* the lectures' scatter of two hyperparameters (e.g. learning rate vs regularization), each
  trial a point coloured by its validation accuracy;
* when given, a random-vs-grid comparison: best-so-far accuracy against trials for each
  strategy, and the distinct values each tried of every hyperparameter (Bergstra & Bengio 2012).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from trainwell.report.html import images, table, write_page  # noqa: E402

MARKERS = {1: ("o", "tab:blue", "stage 1 (coarse)"), 2: ("^", "tab:red", "stage 2 (fine)"), 3: ("s", "tab:green", "stage 3")}


def _numeric(records: list[dict[str, Any]], key: str) -> bool:
    return all(isinstance(r["params"].get(key), (int, float)) and not isinstance(r["params"].get(key), bool) for r in records)


def plot_marginals(records: list[dict[str, Any]], space, out: Path) -> list[str]:
    done = [r for r in records if r["state"] == "COMPLETE"]
    names = []
    for dim in space:
        if not done or not _numeric(done, dim.name):
            continue
        fig, ax = plt.subplots(figsize=(5, 3.6))
        for stage in sorted({r["stage"] for r in done}):
            marker, colour, label = MARKERS.get(stage, ("x", "gray", f"stage {stage}"))
            rs = [r for r in done if r["stage"] == stage]
            ax.scatter([r["params"][dim.name] for r in rs], [100 * r["value"] for r in rs], marker=marker,
                       c=colour, label=label, alpha=0.75, edgecolors="none")
        failed = [r for r in records if r["state"] == "FAIL" and not r.get("interrupted") and dim.name in r["params"]]
        if failed:
            ax.scatter([r["params"][dim.name] for r in failed], [0] * len(failed), marker="x", c="black", label="failed")
        if dim.log:
            ax.set_xscale("log")
        ax.set_xlabel(dim.name)
        ax.set_ylabel("val accuracy (%)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        name = f"search_{dim.name.replace('.', '_')}.png"
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        names.append(name)
    return names


def plot_pair(records: list[dict[str, Any]], space, out: Path) -> list[str]:
    done = [r for r in records if r["state"] == "COMPLETE"]
    dims = [d for d in space if d.numeric and done and _numeric(done, d.name)][:2]
    if len(dims) < 2:
        return []
    a, b = dims
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    for stage in sorted({r["stage"] for r in done}):
        marker = MARKERS.get(stage, ("x",))[0]
        rs = [r for r in done if r["stage"] == stage]
        sc = ax.scatter([r["params"][a.name] for r in rs], [r["params"][b.name] for r in rs],
                        c=[100 * r["value"] for r in rs], cmap="viridis", marker=marker, vmin=min(100 * r["value"] for r in done),
                        vmax=max(100 * r["value"] for r in done), label=f"stage {stage}")
    fig.colorbar(sc, ax=ax, label="val accuracy (%)")
    best = max(done, key=lambda r: r["value"])
    ax.scatter([best["params"][a.name]], [best["params"][b.name]], s=160, facecolors="none", edgecolors="red", label="best")
    ax.set_xscale("log" if a.log else "linear")
    ax.set_yscale("log" if b.log else "linear")
    ax.set_xlabel(a.name)
    ax.set_ylabel(b.name)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "search_pair.png", dpi=110)
    plt.close(fig)
    return ["search_pair.png"]


def plot_comparison(compare: dict[str, list[dict[str, Any]]], out: Path) -> list[str]:
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for label, records in compare.items():
        rs = sorted((r for r in records if r["state"] == "COMPLETE"), key=lambda r: r["number"])
        best, curve = float("-inf"), []
        for r in rs:
            best = max(best, r["value"])
            curve.append(100 * best)
        ax.step(range(1, len(curve) + 1), curve, where="post", label=label)
    ax.set_xlabel("trials")
    ax.set_ylabel("best val accuracy so far (%)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "search_compare.png", dpi=110)
    plt.close(fig)
    return ["search_compare.png"]


def comparison_rows(compare: dict[str, list[dict[str, Any]]], keys: list[str]) -> list[list[Any]]:
    rows = []
    for label, records in compare.items():
        done = [r for r in records if r["state"] == "COMPLETE"]
        best = max((r["value"] for r in done), default=float("nan"))
        distinct = [len({round(float(r["params"][k]), 12) for r in done if k in r["params"]}) for k in keys]
        rows.append([label, len(done), f"{100 * best:.2f}%", *distinct])
    return rows


def write_search_report(out: str | Path, records: list[dict[str, Any]], space,
                        compare: dict[str, list[dict[str, Any]]] | None = None, title: str = "trainwell search") -> Path:
    """Write search.html (and its PNGs) into `out`; returns the page's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    keys = [d.name for d in space]
    done = sorted((r for r in records if r["state"] == "COMPLETE"), key=lambda r: (-r["value"], r["number"]))
    rows = [[r["number"], r["slot"], *[r["params"].get(k) for k in keys], f"{100 * r['value']:.2f}%",
             r.get("best_val_accuracy", ""), r.get("engine", "")] for r in done[:25]]
    failed = [[r["number"], r["slot"], *[r["params"].get(k) for k in keys], r.get("error", "")]
              for r in records if r["state"] == "FAIL" and not r.get("interrupted")]
    sections = [
        ("Ranked trials (final validation accuracy)", table(rows, ["#", "slot", *keys, "val acc", "best val acc", "engine"])),
        ("Validation accuracy against each hyperparameter", images(plot_marginals(records, space, out) + plot_pair(records, space, out))),
    ]
    if failed:
        sections.append(("Failed trials", table(failed, ["#", "slot", *keys, "error"])))
    if compare:
        numeric = [k for k in keys if all(_numeric([r for r in rs if r["state"] == "COMPLETE"], k) for rs in compare.values())]
        sections.append(("Random vs grid search (Bergstra & Bengio 2012)",
                         table(comparison_rows(compare, numeric), ["strategy", "trials", "best", *[f"distinct {k}" for k in numeric]])
                         + images(plot_comparison(compare, out))))
    return write_page(out / "search.html", title, sections)
