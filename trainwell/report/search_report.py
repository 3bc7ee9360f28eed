"""search.html: what a hyperparameter search found, as plots of plain trial records.

* the ranked trials of the last stage (only trials of equal budget are compared);
* the compute that pruning saved: steps run vs steps budgeted, and the pruned trials with why;
* the final validation figure (accuracy, or loss for ``objective = "val_loss"``) against each
  hyperparameter (log x-axis for log-scaled ones), stage 1 and stage 2 (coarse / fine) in
  different markers — where the good region is and how the fine stage zoomed into it;
* the lectures' scatter of two hyperparameters (e.g. learning rate vs regularization), each
  trial a point coloured by its figure;
* when given, a comparison of searches in the same storage: best-so-far figure against trials for
  each sampler, and the distinct values each tried of every hyperparameter (random vs grid:
  Bergstra & Bengio 2012).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from trainwell.report.html import images, table, write_page  # noqa: E402

MARKERS = {1: ("o", "tab:blue", "stage 1 (coarse)"), 2: ("^", "tab:red", "stage 2 (fine)"), 3: ("s", "tab:green", "stage 3")}


def _numeric(records: list[dict[str, Any]], key: str) -> bool:
    return all(isinstance(r["params"].get(key), (int, float)) and not isinstance(r["params"].get(key), bool) for r in records)


def _label(metric: str) -> str:
    return "val loss" if metric == "val_loss" else "val accuracy (%)"


def _y(r: dict[str, Any], metric: str) -> float:
    return r["value"] if metric == "val_loss" else 100 * r["value"]


def plot_marginals(records: list[dict[str, Any]], space, out: Path, metric: str = "accuracy") -> list[str]:
    done = [r for r in records if r["state"] == "COMPLETE"]
    names = []
    for dim in space:
        if not done or not _numeric(done, dim.name):
            continue
        fig, ax = plt.subplots(figsize=(5, 3.6))
        stages = sorted({r["stage"] for r in done})
        for stage in stages:
            marker, colour, label = MARKERS.get(stage, ("x", "gray", f"stage {stage}"))
            label = label if len(stages) > 1 else "trials"
            rs = [r for r in done if r["stage"] == stage]
            ax.scatter([r["params"][dim.name] for r in rs], [_y(r, metric) for r in rs], marker=marker,
                       c=colour, label=label, alpha=0.75, edgecolors="none")
        failed = [r for r in records if r["state"] == "FAIL" and not r.get("retried") and dim.name in r["params"]]
        if failed and metric != "val_loss":
            ax.scatter([r["params"][dim.name] for r in failed], [0] * len(failed), marker="x", c="black", label="failed")
        pruned = [r for r in records if r["state"] == "PRUNED" and dim.name in r["params"] and r.get("last_value") is not None]
        if pruned:
            ax.scatter([r["params"][dim.name] for r in pruned], [_y({"value": r["last_value"]}, metric) for r in pruned],
                       marker="o", facecolors="none", edgecolors="tab:purple", label="pruned (when stopped)")
        if dim.log:
            ax.set_xscale("log")
        ax.set_xlabel(dim.name)
        ax.set_ylabel(_label(metric))
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        name = f"search_{re.sub(r'[^A-Za-z0-9_]', '_', dim.name)}.png"
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        names.append(name)
    return names


def plot_pair(records: list[dict[str, Any]], space, out: Path, metric: str = "accuracy", direction: str = "maximize") -> list[str]:
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
                        c=[_y(r, metric) for r in rs], cmap="viridis" if direction == "maximize" else "viridis_r",
                        marker=marker, vmin=min(_y(r, metric) for r in done), vmax=max(_y(r, metric) for r in done),
                        label=f"stage {stage}")
    fig.colorbar(sc, ax=ax, label=_label(metric))
    last = max(r["stage"] for r in done)
    pick = max if direction == "maximize" else min
    best = pick((r for r in done if r["stage"] == last), key=lambda r: r["value"])
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


def plot_comparison(compare: dict[str, list[dict[str, Any]]], out: Path, metric: str = "accuracy",
                    direction: str = "maximize") -> list[str]:
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    pick = max if direction == "maximize" else min
    for label, records in compare.items():
        rs = sorted((r for r in records if r["state"] == "COMPLETE"), key=lambda r: r["number"])
        best, curve = None, []
        for r in rs:
            best = r if best is None else pick(best, r, key=lambda q: q["value"])
            curve.append(_y(best, metric))
        ax.step(range(1, len(curve) + 1), curve, where="post", label=label)
    ax.set_xlabel("trials")
    ax.set_ylabel(f"best {_label(metric)} so far")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "search_compare.png", dpi=110)
    plt.close(fig)
    return ["search_compare.png"]


def comparison_rows(compare: dict[str, list[dict[str, Any]]], keys: list[str], metric: str = "accuracy",
                    direction: str = "maximize") -> list[list[Any]]:
    rows = []
    pick = max if direction == "maximize" else min
    for label, records in compare.items():
        done = [r for r in records if r["state"] == "COMPLETE"]
        best = pick((r["value"] for r in done), default=float("nan"))
        distinct = [len({round(float(r["params"][k]), 12) for r in done if k in r["params"]}) for k in keys]
        rows.append([label, len(done), _fmt(best, metric), *distinct])
    return rows


def _fmt(value: float | None, metric: str) -> str:
    if value is None:
        return "—"
    return f"{value:.4f}" if metric == "val_loss" else f"{100 * value:.2f}%"


def compute_rows(compute: dict[str, Any]) -> list[list[Any]]:
    return [["steps run", compute["steps_run"]], ["steps budgeted", compute["steps_budgeted"]],
            ["compute saved", f"{100 * compute['saved']:.1f}%"],
            ["trials pruned", f"{compute['pruned']} of {compute['trials']} ({compute['pruned_hopeless']} hopeless)"]]


def write_search_report(out: str | Path, records: list[dict[str, Any]], space,
                        compare: dict[str, list[dict[str, Any]]] | None = None, title: str = "trainwell search",
                        compute: dict[str, Any] | None = None, direction: str = "maximize",
                        metric: str = "accuracy") -> Path:
    """Write search.html (and its PNGs) into `out`; returns the page's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    keys = [d.name for d in space]
    last = max((r["stage"] for r in records), default=1)
    sign = -1.0 if direction == "maximize" else 1.0
    done = sorted((r for r in records if r["state"] == "COMPLETE" and r["stage"] == last),
                  key=lambda r: (sign * r["value"], r["number"]))
    rows = [[r["trial"], *[r["params"].get(k) for k in keys], _fmt(r["value"], metric), r.get("val_accuracy", ""),
             r.get("val_loss", ""), r.get("engine", "")] for r in done[:25]]
    failed = [[r["trial"], *[r["params"].get(k) for k in keys], r.get("error", "")]
              for r in records if r["state"] == "FAIL" and not r.get("retried")]
    pruned = [[r["trial"], *[r["params"].get(k) for k in keys], f"{r.get('steps_run', '?')}/{r.get('steps_budget', r.get('steps', '?'))}",
               r.get("pruned", "")] for r in records if r["state"] == "PRUNED"]
    name = "val loss" if metric == "val_loss" else "val acc"
    sections = [
        (f"Ranked trials of stage {last} (final {'validation loss' if metric == 'val_loss' else 'validation accuracy'}; "
         "equal budgets only)",
         table(rows, ["trial", *keys, name, "val accuracy", "val loss", "engine"])),
    ]
    if compute is not None and compute.get("steps_budgeted"):
        sections.append(("Compute saved by pruning", table(compute_rows(compute), ["", ""])))
    if pruned:
        sections.append(("Pruned trials", table(pruned, ["trial", *keys, "steps run/budget", "why"])))
    sections.append((f"Final {'validation loss' if metric == 'val_loss' else 'validation accuracy'} against each hyperparameter",
                     images(plot_marginals(records, space, out, metric) + plot_pair(records, space, out, metric, direction))))
    if failed:
        sections.append(("Failed trials", table(failed, ["trial", *keys, "error"])))
    if compare:
        numeric = [k for k in keys if all(_numeric([r for r in rs if r["state"] == "COMPLETE"], k) for rs in compare.values())]
        samplers = {label.split(" ")[0] for label in compare}
        heading = "Random vs grid search (Bergstra & Bengio 2012)" if samplers == {"random", "grid"} else "Samplers compared"
        sections.append((heading, table(comparison_rows(compare, numeric, metric, direction),
                                        ["search", "trials", "best", *[f"distinct {k}" for k in numeric]])
                         + images(plot_comparison(compare, out, metric, direction))))
    return write_page(out / "search.html", title, sections)
