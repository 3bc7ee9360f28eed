"""Per-layer statistics of a run as plots over steps, from its stats.jsonl (`StatsCallback` records).

    plot_stats(read_records("runs/x/stats.jsonl", "stats"), Path("runs/x"))  # → [PNG names]

One PNG per question the lectures ask of a training network ("babysitting"), one line per
layer or parameter, training captures only (evaluation captures have no gradients):

| file                     | y                                                   | axis   |
|--------------------------|-----------------------------------------------------|--------|
| stats_act_mean.png       | activation mean per layer                           | linear |
| stats_act_std.png        | activation std per layer (collapse → 0, explosion)  | log    |
| stats_dead_saturated.png | dead fraction (ReLU family) / saturated (tanh, σ)   | [0, 1] |
| stats_grad_norm.png      | ‖∂L/∂w‖ per parameter                               | log    |
| stats_update_ratio.png   | ‖Δw‖/‖w‖ per parameter, the 1e-3 rule dashed        | log    |

Log axes draw only finite positive values (`positive`) and are limited to their range
(`log_limits`), so a zero (a dead layer's std, a zero bias's ratio) or a NaN never stretches
the axis; a series with nothing to draw is named in the plot instead. A figure with no series at
all (no ReLU/tanh layer for the dead/saturated plot) is not written.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from trainwell.report.diagnostics_plots import UPDATE_RULE, finite, log_limits, positive  # noqa: E402
from trainwell.report.html import write_figure  # noqa: E402

MAX_LEGEND = 16  # more lines than this: the legend names the first ones only


def _label(entry: dict[str, Any]) -> str:
    name = entry.get("name") or "model"
    kind = entry.get("type")
    return f"{name} ({kind})" if kind else str(name)


def _by_name(records: list[dict[str, Any]], field: str) -> dict[str, list[dict[str, Any]]]:
    """name → the entry of that layer/parameter in each record ({} where a record lacks it)."""
    names: dict[str, None] = {}
    for r in records:
        for e in r.get(field, []):
            names.setdefault(e.get("name", ""), None)
    return {n: [next((e for e in r.get(field, []) if e.get("name", "") == n), {}) for r in records] for n in names}


def _figure(title: str, ylabel: str):
    fig, ax = plt.subplots(figsize=(6.4, 4))
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.set_prop_cycle(color=[plt.get_cmap("tab20")(k % 20) for k in range(20)])
    return fig, ax


def _finish(fig, ax, skipped: list[str] = ()) -> Any:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles[:MAX_LEGEND], labels[:MAX_LEGEND], fontsize=6, loc="best", ncol=2 if len(handles) > 8 else 1)
    if skipped:
        ax.text(0.01, 0.01, "nothing to draw (no finite positive value): " + ", ".join(skipped)[:180],
                transform=ax.transAxes, fontsize=6, va="bottom")
    fig.tight_layout()
    return fig


def _log_lines(ax, steps: list[float], rows: dict[str, list[Any]]) -> list[str]:
    """Draw each row's finite positive values on a log y axis; return the names with none."""
    drawn: list[float] = []
    skipped = []
    for label, values in rows.items():
        shown = positive(values)
        if any(v == v for v in shown):
            ax.plot(steps, shown, label=label, lw=1.2, marker="o" if len(steps) < 12 else None, markersize=3)
            drawn += shown
        else:
            skipped.append(label)
    ax.set_yscale("log")
    limits = log_limits(drawn)
    if limits is not None:
        ax.set_ylim(*limits)
    return skipped


def plot_stats(records: list[dict[str, Any]], out: Path) -> list[str]:
    """Write the PNGs of the module docstring into `out`; return their names (none without records)."""
    figures = stats_figures(records)
    for name, fig in figures.items():
        write_figure(fig, out / name)
    return list(figures)


def stats_figures(records: list[dict[str, Any]]) -> dict[str, Any]:
    """PNG name → figure (see the module docstring); returned, not saved: the tests read the axes."""
    train = sorted((r for r in records if r.get("phase", "train") == "train"), key=lambda r: r["step"])
    if not train:
        return {}
    steps = [float(r["step"]) for r in train]
    layers = _by_name(train, "layers")
    params = _by_name(train, "params")
    labels = {n: _label(next((e for e in per if e), {"name": n})) for n, per in layers.items()}
    marker = "o" if len(steps) < 12 else None
    figures: dict[str, Any] = {}

    fig, ax = _figure("activation mean per layer", "mean")
    for n, per in layers.items():
        ax.plot(steps, finite([e.get("mean") for e in per]), label=labels[n], lw=1.2, marker=marker, markersize=3)
    figures["stats_act_mean.png"] = _finish(fig, ax)

    fig, ax = _figure("activation std per layer", "std (log)")
    skipped = _log_lines(ax, steps, {labels[n]: [e.get("std") for e in per] for n, per in layers.items()})
    figures["stats_act_std.png"] = _finish(fig, ax, skipped)

    fig, ax = _figure("dead (ReLU family, solid) / saturated (tanh, sigmoid, dashed) fraction", "fraction of units")
    any_line = False
    for n, per in layers.items():
        for field, style in (("dead_frac", "-"), ("saturated_frac", "--")):
            values = finite([e.get(field) for e in per])
            if any(v == v for v in values):
                ax.plot(steps, values, style, label=f"{labels[n]} {field.split('_')[0]}", lw=1.2, marker=marker,
                        markersize=3)
                any_line = True
    if any_line:
        ax.set_ylim(-0.02, 1.02)
        figures["stats_dead_saturated.png"] = _finish(fig, ax)
    else:
        plt.close(fig)

    if params:
        fig, ax = _figure("gradient norm ‖∂L/∂w‖ per parameter", "norm (log)")
        skipped = _log_lines(ax, steps, {n: [e.get("grad_norm") for e in per] for n, per in params.items()})
        figures["stats_grad_norm.png"] = _finish(fig, ax, skipped)

        fig, ax = _figure("update / weight ratio ‖Δw‖/‖w‖ (dashed: 1e-3)", "ratio (log)")
        # ‖w‖ = 0 (a zero bias): the ratio is undefined, whatever number the record holds
        rows = {n: [e.get("update_ratio") if e.get("weight_norm") is None or e["weight_norm"] > 0 else None
                    for e in per] for n, per in params.items()}
        skipped = _log_lines(ax, steps, rows)
        ax.axhline(UPDATE_RULE, color="k", ls="--", lw=1)
        limits = log_limits([v for values in rows.values() for v in positive(values)] + [UPDATE_RULE])
        if limits is not None:
            ax.set_ylim(*limits)
        figures["stats_update_ratio.png"] = _finish(fig, ax, skipped)
    return figures


__all__ = ["plot_stats", "stats_figures"]
