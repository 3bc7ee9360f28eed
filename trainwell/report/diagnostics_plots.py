"""Plots of diagnostics records (PNG, matplotlib Agg). They read plain records only — the dicts
that `InitStatsResult.to_json()`, `LRFinderResult.to_json()` and `LayerStats`/`StatsCallback`
produce (or the same dicts read back from JSON) — never live models or tensors.

    plot_init_histograms(init_stats(...).to_json(), "init.png")    # the lecture figure
    plot_lr_finder(lr_find(...).to_json(), "lr.png")               # loss vs lr, log x axis
    plot_layer_stats(state.records["stats"], "stats.png")          # std / dead / ratio over steps
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


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
    colors = {"healthy": "tab:green", "collapsed": "tab:blue", "saturated": "tab:red", "exploded": "tab:purple"}
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
    lrs = record["lrs"]
    raw = [math.nan if v is None else v for v in record["losses"]]
    smooth = [math.nan if v is None else v for v in record["smoothed"]]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(lrs, raw, color="tab:gray", alpha=0.4, lw=1, label="loss")
    ax.plot(lrs, smooth, color="tab:blue", lw=2, label="smoothed (EMA)")
    finite = [v for v in smooth if v == v]
    if finite:
        lo, hi = min(finite), max(finite)
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


def plot_layer_stats(records: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """From `StatsCallback` records: activation std per layer, dead/saturated fraction, and
    the update/weight ratio per parameter (log y, the 1e-3 rule of thumb dashed), over steps."""
    train = [r for r in records if r.get("phase", "train") == "train"]
    steps = [r["step"] for r in train]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    names = [l["name"] for l in train[0]["layers"]] if train else []
    for name in names:
        per = [next((l for l in r["layers"] if l["name"] == name), {}) for r in train]
        axes[0].plot(steps, [l.get("std", math.nan) for l in per], label=name)
        frac = [l.get("dead_frac", l.get("saturated_frac", math.nan)) for l in per]
        if any(f == f for f in frac):
            axes[1].plot(steps, frac, label=name)
    pnames = [p["name"] for p in train[0]["params"]] if train else []
    for name in pnames:
        ratio = [next((p.get("update_ratio", math.nan) for p in r["params"] if p["name"] == name), math.nan)
                 for r in train]
        axes[2].plot(steps, ratio, label=name)
    axes[2].axhline(1e-3, color="k", ls="--", lw=1)
    axes[2].set_yscale("log")
    for ax, t in zip(axes, ("activation std", "dead (ReLU) / saturated (tanh, sigmoid) fraction",
                            "update / weight ratio ‖Δw‖/‖w‖")):
        ax.set_title(t, fontsize=9)
        ax.set_xlabel("step")
        if ax.lines:
            ax.legend(fontsize=6)
    return _save(fig, path)
