"""Plots of diagnostics records (PNG, matplotlib Agg). They read plain records only — the dicts
that `InitStatsResult.to_json()`, `LRFinderResult.to_json()` and `LayerStats`/`StatsCallback`
produce (or the same dicts read back from JSON) — never live models or tensors.

    plot_init_histograms(init_stats(...).to_json(), "init.png")    # the lecture figure
    plot_lr_finder(lr_find(...).to_json(), "lr.png")               # loss vs lr, log x axis
    plot_layer_stats(state.records["stats"], "stats.png")          # std / dead / ratio over steps

Values that a log axis cannot show (0, negative, NaN, ±inf) are left out rather than drawn, and
every log axis is limited to the finite range of what is drawn: one ‖Δw‖/‖w‖ of a zero bias
(‖w‖ = 0, recorded as ‖Δw‖ divided by float32's tiny 1.2e-38) would otherwise stretch the axis
to 1e35.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def finite(values: Sequence[Any]) -> list[float]:
    """Each value as a float, NaN where it is None or not finite (matplotlib leaves NaN out)."""
    return [float(v) if v is not None and math.isfinite(v) else math.nan for v in values]


def positive(values: Sequence[Any]) -> list[float]:
    """`finite`, and NaN also where the value is ≤ 0: what a log axis can show."""
    return [v if v > 0 else math.nan for v in finite(values)]


def log_limits(values: Sequence[float], pad: float = 2.0) -> tuple[float, float] | None:
    """(min / pad, max * pad) of the finite positive values, or None when there are none."""
    shown = [v for v in positive(values) if v == v]
    if not shown:
        return None
    return min(shown) / pad, max(shown) * pad


def _save(fig: Any, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_init_histograms(record: dict[str, Any], path: str | Path, title: str | None = None) -> Path:
    """Top row: mean and std per layer; below: one histogram per layer, side by side on a shared
    x range (the union of the layers' [lo, hi], so a collapsing layer shows as a spike at 0),
    titled with its index, std and verdict — as in the lecture figures."""
    layers = record["layers"]
    n = len(layers)
    fig = plt.figure(figsize=(max(2.0 * n, 6), 5.2))
    grid = fig.add_gridspec(2, n, height_ratios=[1, 1.2], hspace=0.5)
    ax_mean = fig.add_subplot(grid[0, : max(n // 2, 1)])
    ax_std = fig.add_subplot(grid[0, max(n // 2, 1) :] if n > 1 else grid[0, 0])
    idx = [l["index"] for l in layers]
    ax_mean.plot(idx, [l["mean"] for l in layers], "o-")
    ax_mean.set_title("layer mean")
    ax_std.plot(idx, [l["std"] for l in layers], "o-", color="tab:orange")
    ax_std.set_title("layer std")
    for ax in (ax_mean, ax_std):
        ax.set_xlabel("layer")
        ax.set_xticks(idx)
    x_lo = min(l["lo"] for l in layers)
    x_hi = max(l["hi"] for l in layers)
    colors = {"healthy": "tab:green", "collapsed": "tab:blue", "saturated": "tab:red", "exploded": "tab:purple",
              "dead": "tab:olive"}
    for k, layer in enumerate(layers):
        ax = fig.add_subplot(grid[1, k])
        counts = layer["hist"]
        lo, hi = layer["lo"], layer["hi"]
        width = (hi - lo) / len(counts) if hi > lo else 1.0
        drawn = max(width, (x_hi - x_lo) / 120)  # a collapsed layer stays visible as a spike
        ax.bar([lo + (i + 0.5) * width for i in range(len(counts))], counts, width=drawn,
               color=colors.get(layer.get("verdict", ""), "tab:gray"))
        ax.set_title(f"{layer['index']}: σ={layer['std']:.2g}\n{layer.get('verdict', '')}", fontsize=8)
        ax.set_xlim(x_lo, x_hi if x_hi > x_lo else x_lo + 1)
        ax.tick_params(labelsize=6)
        ax.set_yticks([])
    config = record.get("config", {})
    fig.suptitle(title or " ".join(f"{k}={v}" for k, v in config.items() if v is not None and k in
                                   ("act", "init", "std", "norm", "depth", "width")))
    return _save(fig, path)


def plot_lr_finder(record: dict[str, Any], path: str | Path, title: str = "LR range test") -> Path:
    """Raw and smoothed loss against the learning rate (log x), the suggestion marked."""
    lrs = positive(record["lrs"])
    raw = finite(record["losses"])
    smooth = finite(record["smoothed"])
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(lrs, raw, color="tab:gray", alpha=0.4, lw=1, label="loss")
    ax.plot(lrs, smooth, color="tab:blue", lw=2, label="smoothed (EMA)")
    shown = [v for v in smooth if v == v]
    if shown:
        lo, hi = min(shown), max(shown)
        ax.set_ylim(lo - 0.05 * (hi - lo + 1e-12), min(hi, 4 * abs(lo) + lo) + 0.05 * (hi - lo + 1e-12))
    suggestion = record.get("suggestion")
    if suggestion:
        ax.axvline(suggestion, color="tab:red", ls="--", label=f"suggestion {suggestion:.2g}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    return _save(fig, path)


UPDATE_RULE = 1e-3  # the lectures' rule of thumb for ‖Δw‖/‖w‖


def layer_stats_figure(records: Sequence[dict[str, Any]]) -> Any:
    """The figure of `plot_layer_stats` (returned, not saved: the tests read its axes)."""
    train = [r for r in records if r.get("phase", "train") == "train"]
    steps = [r["step"] for r in train]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    names = [l["name"] for l in train[0]["layers"]] if train else []
    for name in names:
        per = [next((l for l in r["layers"] if l["name"] == name), {}) for r in train]
        axes[0].plot(steps, finite([l.get("std") for l in per]), label=name)
        frac = finite([l.get("dead_frac", l.get("saturated_frac")) for l in per])
        if any(f == f for f in frac):
            axes[1].plot(steps, frac, label=name)
    pnames = [p["name"] for p in train[0]["params"]] if train else []
    drawn, undefined = [], []
    for name in pnames:
        per = [next((p for p in r["params"] if p["name"] == name), {}) for r in train]
        # ‖w‖ = 0 (a zero bias): the ratio is undefined, whatever number the record holds
        ratio = positive([p.get("update_ratio") if p.get("weight_norm") is None or p["weight_norm"] > 0 else None
                          for p in per])
        if any(v == v for v in ratio):
            axes[2].plot(steps, ratio, label=name)
            drawn += ratio
        else:
            undefined.append(name)
    axes[2].axhline(UPDATE_RULE, color="k", ls="--", lw=1)
    axes[2].set_yscale("log")
    limits = log_limits(drawn + [UPDATE_RULE])
    if limits is not None:
        axes[2].set_ylim(*limits)
    if undefined:
        axes[2].text(0.01, 0.01, "not drawn (‖w‖ = 0 or no finite ratio): " + ", ".join(undefined),
                     transform=axes[2].transAxes, fontsize=6, va="bottom")
    for ax, t in zip(axes, ("activation std", "dead (ReLU) / saturated (tanh, sigmoid) fraction",
                            "update / weight ratio ‖Δw‖/‖w‖")):
        ax.set_title(t, fontsize=9)
        ax.set_xlabel("step")
        if ax.lines:
            ax.legend(fontsize=6)
    return fig


def plot_layer_stats(records: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """From `StatsCallback` records: activation std per layer, dead/saturated fraction, and
    the update/weight ratio per parameter (log y limited to the drawn values, the 1e-3 rule of
    thumb dashed), over steps. Parameters whose ratio is undefined (‖w‖ = 0) are named, not drawn."""
    return _save(layer_stats_figure(records), path)
