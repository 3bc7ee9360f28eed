"""The plot of an experiment (PNG, matplotlib Agg), drawn from the plain panel records of its result
(`ExperimentResult.plots`, kinds in `trainwell.experiments.figures`) — never from live models.

    plot_experiment(result.to_dict(), "runs/experiments/relu-vs-tanh/plot.png")

Axes are kept sane: a log axis only where every drawn value is positive and finite (otherwise
linear, and the title says so), non-finite values are gaps, a diverged curve's huge values are
clipped to the panel's range of the finite ones. A result without panels gets a bar chart of
its table's first varying numeric column (the search experiments' tables), or a text panel.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _num(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f if math.isfinite(f) else math.nan


def _positive(values: Sequence[Any]) -> bool:
    vals = [_num(v) for v in values]
    drawn = [v for v in vals if v == v]
    return bool(drawn) and all(v > 0 for v in drawn)


def _safe_log(ax: Any, axis: str, values: Sequence[Any]) -> bool:
    """Log scale on `axis` if every finite value is > 0; returns whether it was applied."""
    if _positive(values):
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
        return True
    return False


def _lines(ax: Any, p: dict[str, Any]) -> None:
    all_x, all_y = [], []
    for s in p.get("series", []):
        xs = [_num(v) for v in s.get("x", [])]
        ys = [_num(v) for v in s.get("y", [])]
        n = min(len(xs), len(ys))
        if not n:
            continue
        kw = {k: s[k] for k in ("color", "ls", "marker", "alpha", "lw") if k in s}
        kw.setdefault("marker", "o" if n <= 12 else None)
        ax.plot(xs[:n], ys[:n], label=s.get("label", ""), ms=3, **kw)
        all_x += xs[:n]
        all_y += ys[:n]
    if p.get("hline") is not None and _num(p["hline"]) == _num(p["hline"]):
        ax.axhline(_num(p["hline"]), color="k", ls="--", lw=1)
        all_y.append(_num(p["hline"]))
    notes = []
    if p.get("logx") and not _safe_log(ax, "x", all_x):
        notes.append("linear x")
    if p.get("logy") and not _safe_log(ax, "y", all_y):
        notes.append("linear y")
    if p.get("ylim"):
        lo, hi = (_num(v) for v in p["ylim"])
        if lo == lo and hi == hi and hi > lo and not (ax.get_yscale() == "log" and lo <= 0):
            ax.set_ylim(lo, hi)
    if notes:
        ax.set_title(f"{p.get('title', '')} ({', '.join(notes)}: non-positive values)", fontsize=9)
    if any(s.get("label") for s in p.get("series", [])):
        ax.legend(fontsize=7)


def _bars(ax: Any, p: dict[str, Any]) -> None:
    labels = p.get("labels", [])
    values = [_num(v) for v in p.get("values", [])]
    xs = list(range(len(labels)))
    drawn = [v if v == v else 0.0 for v in values]
    yerr = None
    lo, hi = p.get("lo"), p.get("hi")
    if lo and hi:
        yerr = [[max(v - _num(l), 0.0) if _num(l) == _num(l) and v == v else 0.0 for v, l in zip(values, lo)],
                [max(_num(h) - v, 0.0) if _num(h) == _num(h) and v == v else 0.0 for v, h in zip(values, hi)]]
    log = p.get("logy") and _positive(values + [_num(v) for v in (lo or []) if v is not None])
    if log:
        drawn = [v if v > 0 else math.nan for v in drawn]
    ax.bar(xs, drawn, yerr=yerr, capsize=3, color="tab:blue", alpha=0.8)
    for x, v in zip(xs, values):
        if v != v:
            ax.text(x, 0, "n/a", ha="center", va="bottom", fontsize=7)
    if log:
        ax.set_yscale("log")
    if p.get("hline") is not None and _num(p["hline"]) == _num(p["hline"]):
        ax.axhline(_num(p["hline"]), color="k", ls="--", lw=1)
    ax.set_xticks(xs)
    ax.set_xticklabels(labels, rotation=30 if max((len(l) for l in labels), default=0) > 8 else 0,
                       ha="right" if max((len(l) for l in labels), default=0) > 8 else "center", fontsize=7)


def _heatmap(ax: Any, p: dict[str, Any]) -> None:
    import numpy as np

    values = np.array([[_num(v) for v in row] for row in p.get("values", [])], dtype=float)
    if values.size == 0:
        return
    masked = np.ma.masked_invalid(values)
    im = ax.imshow(masked, cmap="viridis", aspect="auto", vmin=p.get("vmin"), vmax=p.get("vmax"), origin="lower")
    ax.figure.colorbar(im, ax=ax, fraction=0.046)
    fmt = p.get("fmt", "{:.0f}")
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            ax.text(j, i, "n/a" if v != v else fmt.format(v), ha="center", va="center", fontsize=7,
                    color="w" if v != v or (p.get("vmax") is not None and v < 0.5 * p["vmax"]) else "k")
    ax.set_xticks(range(values.shape[1]))
    xticks = p.get("xticks", [])
    long = max((len(t) for t in xticks), default=0) > 6
    ax.set_xticklabels(xticks, fontsize=7, rotation=30 if long else 0, ha="right" if long else "center")
    ax.set_yticks(range(values.shape[0]))
    ax.set_yticklabels(p.get("yticks", []), fontsize=7)


def _contour(ax: Any, p: dict[str, Any]) -> None:
    import numpy as np

    x = np.array([_num(v) for v in p["x"]])
    y = np.array([_num(v) for v in p["y"]])
    z = np.array([[_num(v) for v in row] for row in p["z"]], dtype=float)
    if p.get("logz") and _positive(z.ravel().tolist()):
        z = np.log10(z)
        label = "log10 loss"
    else:
        label = "loss"
    cs = ax.contourf(x, y, np.ma.masked_invalid(z), levels=25, cmap="Greys", alpha=0.7)
    ax.figure.colorbar(cs, ax=ax, fraction=0.046, label=label)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, path in enumerate(p.get("paths", [])):
        px = np.array([_num(v) for v in path["x"]])
        py = np.array([_num(v) for v in path["y"]])
        keep = np.isfinite(px) & np.isfinite(py) & (px >= x.min()) & (px <= x.max()) & (py >= y.min()) & (py <= y.max())
        ax.plot(px[keep], py[keep], "-o", ms=2, lw=1.2, color=colors[k % len(colors)], label=path.get("label", ""))
    ax.set_xlim(x.min(), x.max())
    ax.set_ylim(y.min(), y.max())
    if p.get("paths"):
        ax.legend(fontsize=7, loc="upper right")


DRAW = {"lines": _lines, "bars": _bars, "heatmap": _heatmap, "contour": _contour}


def table_panel(result: dict[str, Any]) -> dict[str, Any] | None:
    """A bar panel of the table's first all-numeric column whose values differ (for results without
    panels); None when there is none."""
    rows, columns = result.get("rows", []), result.get("columns", [])
    for j in range(1, len(columns)):
        values = [_num(r[j]) if j < len(r) else math.nan for r in rows]
        if rows and all(v == v for v in values) and len(set(values)) > 1:
            return {"kind": "bars", "title": columns[j], "labels": [str(r[0]) for r in rows], "values": values,
                    "ylabel": columns[j]}
    return None


def plot_experiment(result: dict[str, Any], path: str | Path) -> Path:
    """One PNG with every panel of `result` (a dict of `ExperimentResult.to_dict()`)."""
    panels = [p for p in result.get("plots", []) if p.get("kind") in DRAW]
    if not panels:
        fallback = table_panel(result)
        panels = [fallback] if fallback else []
    n = max(len(panels), 1)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.9 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    if not panels:
        axes[0][0].axis("off")
        axes[0][0].text(0.5, 0.5, result.get("verdict", ""), ha="center", va="center", wrap=True)
    for ax, p in zip(axes.flat, panels):
        ax.set_title(p.get("title", ""), fontsize=9)
        DRAW[p["kind"]](ax, p)
        ax.set_xlabel(p.get("xlabel", ""), fontsize=8)
        ax.set_ylabel(p.get("ylabel", ""), fontsize=8)
        ax.tick_params(labelsize=7)
    mark = {True: "HOLDS", False: "DOES NOT HOLD", None: ""}[result.get("passed")]
    fig.suptitle(f"{result.get('name', '')}: {mark}", fontsize=11)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
