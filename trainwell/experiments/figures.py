"""Plot records: the panels an experiment asks for, as plain dicts (drawn by
`trainwell.report.experiment_plots`; nothing here imports matplotlib).

Kinds (every panel has "kind" and "title"):

    lines    series [{label, x, y}], xlabel, ylabel, logx, logy, hline (a reference value)
    bars     labels, values, lo, hi (the spread; optional), ylabel, logy, hline
    heatmap  xticks, yticks, values (rows × columns; None = no value), xlabel, ylabel, fmt, vmin, vmax
    contour  x, y (grid axes), z (len(y) × len(x)), paths [{label, x, y}], xlabel, ylabel, logz

A log axis is honoured only where every drawn value is positive and finite (the report checks).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

KINDS = ("lines", "bars", "heatmap", "contour")


def _clean(values: Sequence[Any]) -> list[float | None]:
    out = []
    for v in values:
        try:
            f = float(v)
        except (TypeError, ValueError):
            out.append(None)
            continue
        out.append(f if math.isfinite(f) else None)
    return out


def series(label: str, x: Sequence[float], y: Sequence[float], **style: Any) -> dict[str, Any]:
    """One line; non-finite y values become None (gaps)."""
    return {"label": label, "x": list(x), "y": _clean(y), **style}


def lines(title: str, lines_: Sequence[dict[str, Any]], xlabel: str = "step", ylabel: str = "", *,
          logx: bool = False, logy: bool = False, hline: float | None = None, ylim: Sequence[float] | None = None) -> dict[str, Any]:
    return {"kind": "lines", "title": title, "series": list(lines_), "xlabel": xlabel, "ylabel": ylabel, "logx": logx,
            "logy": logy, "hline": hline, "ylim": list(ylim) if ylim is not None else None}


def bars(title: str, labels: Sequence[str], values: Sequence[float], *, lo: Sequence[float] | None = None,
         hi: Sequence[float] | None = None, ylabel: str = "", logy: bool = False, hline: float | None = None) -> dict[str, Any]:
    return {"kind": "bars", "title": title, "labels": [str(l) for l in labels], "values": _clean(values),
            "lo": _clean(lo) if lo is not None else None, "hi": _clean(hi) if hi is not None else None,
            "ylabel": ylabel, "logy": logy, "hline": hline}


def heatmap(title: str, xticks: Sequence[Any], yticks: Sequence[Any], values: Sequence[Sequence[float | None]], *,
            xlabel: str = "", ylabel: str = "", fmt: str = "{:.0f}", vmin: float | None = None,
            vmax: float | None = None) -> dict[str, Any]:
    return {"kind": "heatmap", "title": title, "xticks": [str(t) for t in xticks], "yticks": [str(t) for t in yticks],
            "values": [_clean(row) for row in values], "xlabel": xlabel, "ylabel": ylabel, "fmt": fmt,
            "vmin": vmin, "vmax": vmax}


def contour(title: str, x: Sequence[float], y: Sequence[float], z: Sequence[Sequence[float]],
            paths: Sequence[dict[str, Any]] = (), *, xlabel: str = "", ylabel: str = "",
            logz: bool = False) -> dict[str, Any]:
    return {"kind": "contour", "title": title, "x": list(x), "y": list(y), "z": [_clean(r) for r in z],
            "paths": list(paths), "xlabel": xlabel, "ylabel": ylabel, "logz": logz}
