"""Histograms for TensorBoard, from the weights (on demand) and from per-layer statistics records.

A `Histogram` is what TensorBoard's histogram summary holds: min, max, count, Σx, Σx², and the
bucket counts with each bucket's RIGHT edge (``bucket_limits``; the first bucket starts at min).

`weight_histograms(model, bins)` bins every floating-point parameter ON ITS DEVICE —
``torch.aminmax``, Σx, Σx² and ``torch.histc`` (equal-width bins over [min, max]; a constant
tensor gets [v − 1, v + 1], as histc does) — and brings all of them to the host in ONE transfer.
It is meant for the moments the trainer has synced anyway (a log step, an evaluation), every
`histograms_every` steps, never per step.

`activation_histograms(record)` reads a `StatsCallback` record: each layer's ``hist`` counts over
its exact [lo, hi], with count, Σ and Σ² estimated from the layer's mean and std over the binned
sample (the record holds the sample's counts, not the whole tensor's).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from trainwell.train.loggers.scalars import layer_label, safe_name


@dataclass(frozen=True)
class Histogram:
    name: str
    lo: float
    hi: float
    num: float
    sum: float
    sum_squares: float
    bucket_limits: list[float]
    bucket_counts: list[float]


def _limits(lo: float, hi: float, bins: int) -> list[float]:
    """Right edges of `bins` equal-width buckets over [lo, hi] ([lo − 1, hi + 1] when lo == hi)."""
    if hi <= lo:
        lo, hi = lo - 1.0, hi + 1.0
    width = (hi - lo) / bins
    return [lo + width * (k + 1) for k in range(bins - 1)] + [hi]


def weight_histograms(model: nn.Module, bins: int = 30) -> list[Histogram]:
    """One histogram per floating-point parameter (by `named_parameters` name), one transfer.

    Raises RuntimeError (from torch.histc) when a parameter holds NaN or ±inf."""
    named = [(n, p) for n, p in model.named_parameters() if p.is_floating_point() and p.numel() > 0]
    if not named:
        return []
    rows = []
    with torch.no_grad():
        for _, p in named:
            x = p.detach().reshape(-1).float()
            lo, hi = torch.aminmax(x)
            rows.append(torch.cat([torch.stack([lo, hi, x.sum(), x.square().sum()]), torch.histc(x, bins)]))
        host = torch.stack(rows).double().cpu().tolist()  # the one device→host transfer
    out = []
    for (name, p), row in zip(named, host):
        lo, hi, s, s2 = row[:4]
        out.append(Histogram(safe_name(name), lo, hi, float(p.numel()), s, s2, _limits(lo, hi, bins), row[4:]))
    return out


def activation_histograms(record: dict) -> list[Histogram]:
    """One histogram per layer of a `StatsCallback` record that holds one (``hist``, ``lo``, ``hi``)."""
    out = []
    for layer in record.get("layers", []):
        counts, lo, hi = layer.get("hist"), layer.get("lo"), layer.get("hi")
        if not counts or lo is None or hi is None:
            continue
        num = float(sum(counts))
        mean, std = float(layer.get("mean") or 0.0), float(layer.get("std") or 0.0)
        out.append(Histogram(layer_label(layer), float(lo), float(hi), num, mean * num, (std * std + mean * mean) * num,
                             _limits(float(lo), float(hi), len(counts)), [float(c) for c in counts]))
    return out


__all__ = ["Histogram", "activation_histograms", "weight_histograms"]
