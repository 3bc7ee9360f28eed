"""Per-layer statistics records of a data-parallel run's processes, merged into the global batch's.

Each process captures the same sampled step on its own b = B/N examples (`LayerStats`);
`merge_records` makes the N records one record of the global batch (`StatsCallback` gathers them
to rank 0 with one collective a sampled step, and rank 0 writes the result):

    numel           = Σ n_r
    mean            = Σ n_r·mean_r / n
    std             = sqrt(Σ n_r·(std_r² + (mean_r − mean)²) / n)     exact (Chan, Golub & LeVeque 1979)
    lo, hi          = min_r lo_r, max_r hi_r                          exact
    saturated_frac  = Σ n_r·sat_r / n                                 exact (a count of elements)
    grad_mean/std   = as mean and std, over the activation gradients, divided by N: each process
                      differentiates the mean loss of ITS examples, the global batch's loss is
                      the mean of the N, so its gradients are the processes' / N       exact
    dead_frac       = min_r dead_r: an UPPER BOUND of the global fraction (a unit dead on the global
                      batch is dead on every shard; the exact figure needs per-unit masks, which a
                      record does not keep)
    hist            = every process's counts moved onto `bins` even bins of the global [lo, hi] (each
                      count goes to the bin that holds its old bin's centre) and summed: the total is
                      exact, positions are within one old bin width
    params          = rank 0's (the same in every process: DDP averaged the gradients before
                      `after_backward` measured them, and the weights are equal)

Example:
    >>> merged = merge_records([record_of_rank0, record_of_rank1])   # records of the same step
"""
from __future__ import annotations

import math
from typing import Any


def _moments(ns: list[int], means: list[float], stds: list[float]) -> tuple[float, float]:
    n = sum(ns)
    mean = sum(k * m for k, m in zip(ns, means)) / n
    m2 = sum(k * (s * s + (m - mean) ** 2) for k, m, s in zip(ns, means, stds))
    return mean, math.sqrt(max(m2, 0.0) / n)


def _rebin(layers: list[dict[str, Any]], lo: float, hi: float) -> list[int]:
    bins = len(layers[0]["hist"])
    width = (hi - lo) / bins if bins else 0.0
    out = [0] * bins
    for layer in layers:
        counts = layer["hist"]
        step = (layer["hi"] - layer["lo"]) / len(counts) if counts else 0.0
        for j, count in enumerate(counts):
            if count:
                centre = layer["lo"] + (j + 0.5) * step
                k = int((centre - lo) / width) if width > 0 and math.isfinite(centre) else 0
                out[min(max(k, 0), bins - 1)] += count
    return out


def merge_layer(layers: list[dict[str, Any]]) -> dict[str, Any]:
    """One layer's entries of the N records (same layer, same step) → the global batch's entry."""
    ns = [layer["numel"] for layer in layers]
    out = dict(layers[0])
    out["numel"] = n = sum(ns)
    out["mean"], out["std"] = _moments(ns, [x["mean"] for x in layers], [x["std"] for x in layers])
    out["lo"], out["hi"] = min(x["lo"] for x in layers), max(x["hi"] for x in layers)
    if "saturated_frac" in out:
        out["saturated_frac"] = sum(k * x["saturated_frac"] for k, x in zip(ns, layers)) / n
    if "dead_frac" in out:
        out["dead_frac"] = min(x["dead_frac"] for x in layers)
    if all("grad_mean" in x for x in layers):
        mean, std = _moments(ns, [x["grad_mean"] for x in layers], [x["grad_std"] for x in layers])
        out["grad_mean"], out["grad_std"] = mean / len(layers), std / len(layers)
    if "hist" in out:
        out["hist"] = _rebin(layers, out["lo"], out["hi"])
    return out


def merge_records(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The N processes' records of one captured step → one record (see the module docstring).
    Records whose layers do not line up (they always do for one model) give rank 0's, unmerged."""
    first = records[0]
    if len(records) == 1:
        return first
    names = [[layer["name"] for layer in r["layers"]] for r in records]
    if any(other != names[0] for other in names[1:]):
        return {**first, "processes": len(records), "merged": False}
    layers = [merge_layer([r["layers"][i] for r in records]) for i in range(len(first["layers"]))]
    return {**first, "layers": layers, "processes": len(records)}


__all__ = ["merge_layer", "merge_records"]
