"""Data checks (babysitting step 1, "preprocess the data"), as pure functions of tensors.

    finite         NaN or Inf anywhere in the raw or preprocessed inputs → fail
    constant       features with σ_j ≤ rtol·(1 + |μ_j|) on the training split → warn (no information)
    centered       after preprocessing: mean_j |μ_j| ≤ center_tol · mean_j σ_j, else warn
    scaled         after preprocessing: scale_band[0] ≤ mean_j σ_j ≤ scale_band[1], else warn
    fit_on_train   the pipeline's statistics must equal a fresh fit on the TRAINING split:
                   refit the same steps on raw train, raw test and raw train+val+test and compare
                   the stored statistics by relative distance d(a, b) = ‖a − b‖ / ‖b‖:
                     d_train ≤ fit_rtol                 → pass
                     d_test ≤ fit_rtol or d_all ≤ fit_rtol → fail (fitted on test / on all the data)
                     otherwise                          → warn (fitted on some other data)

μ_j and σ_j are the per-feature mean and population std over the training examples (a feature
is one element of an example: N×F, N×C×L and N×C×H×W alike).

The lectures: "statistics are computed on the training set only and applied unchanged to
validation and test data. Computing them on the whole data set is a mistake."
"""
from __future__ import annotations

import math
from typing import Any

import torch

from trainwell.doctor.config import DoctorConfig
from trainwell.diagnostics.findings import Finding
from trainwell.preprocess import Pipeline, build_pipeline


def feature_moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-feature mean μ_j and population std σ_j over the examples (float64)."""
    flat = x.reshape(len(x), -1).double()
    mean = flat.mean(0)
    return mean, (flat - mean).square().mean(0).sqrt()


def check_finite(raw: dict[str, torch.Tensor], prepared: dict[str, torch.Tensor]) -> Finding:
    bad: dict[str, Any] = {}
    for stage, tensors in (("raw", raw), ("preprocessed", prepared)):
        for split, x in tensors.items():
            n = int((~torch.isfinite(x)).sum())
            if n:
                bad[f"{stage} {split}"] = n
    if bad:
        where = ", ".join(f"{k}: {v}" for k, v in bad.items())
        return Finding("data_finite", "fail", None,
                       f"non-finite input values (NaN/Inf) — {where}; remove or impute them before training "
                       "(a single NaN turns the loss into NaN)", {"nonfinite": bad})
    return Finding("data_finite", "pass", None, "no NaN or Inf in the inputs", {})


def check_constant(x_train: torch.Tensor, cfg: DoctorConfig) -> Finding:
    mean, std = feature_moments(x_train)
    const = std <= cfg.constant_rtol * (1 + mean.abs())
    n, d = int(const.sum()), std.numel()
    numbers = {"constant_features": n, "features": d, "rtol": cfg.constant_rtol}
    if n:
        idx = const.nonzero().flatten()[:10].tolist()
        return Finding("data_constant", "warn", None,
                       f"{n} of {d} input features are constant on the training split (e.g. feature(s) {idx}): "
                       "they carry no information — drop them (standardize leaves them at 0)", numbers)
    return Finding("data_constant", "pass", None, f"no constant features among {d}", numbers)


def check_centered_scaled(x_train: torch.Tensor, cfg: DoctorConfig, has_pipeline: bool) -> list[Finding]:
    mean, std = feature_moments(x_train)
    mean_abs, scale = float(mean.abs().mean()), float(std.mean())
    numbers = {"mean_abs_mean": mean_abs, "mean_std": scale, "center_tol": cfg.center_tol,
               "scale_band": list(cfg.scale_band)}
    fix = "add \"standardize\" to data.preprocess" if not has_pipeline else \
        "use \"standardize\" (per-feature mean and std fitted on train) in data.preprocess"
    out = []
    if mean_abs > cfg.center_tol * scale:
        out.append(Finding("data_centered", "warn", None,
                           f"inputs are not zero-centered: mean |feature mean| = {mean_abs:.3g} > "
                           f"{cfg.center_tol}·(mean feature std {scale:.3g}); all-positive inputs make every "
                           f"weight gradient of a first-layer unit share one sign (zig-zag updates) — {fix}",
                           numbers))
    else:
        out.append(Finding("data_centered", "pass", None,
                           f"inputs zero-centered (mean |feature mean| {mean_abs:.3g} ≤ {cfg.center_tol}·{scale:.3g})",
                           numbers))
    lo, hi = cfg.scale_band
    if not lo <= scale <= hi:
        out.append(Finding("data_scaled", "warn", None,
                           f"inputs are not on unit scale: mean feature std = {scale:.3g} outside [{lo}, {hi}]; "
                           f"the loss becomes very sensitive to small weight changes — {fix}", numbers))
    else:
        out.append(Finding("data_scaled", "pass", None, f"inputs on unit scale (mean feature std {scale:.3g})", numbers))
    return out


def _stats_vector(pipeline: Pipeline) -> torch.Tensor:
    """Every statistic tensor of every step, flattened and concatenated (float64, CPU)."""
    parts = []
    for step in pipeline.state_dict()["steps"]:
        for key in sorted(step["stats"]):
            value = step["stats"][key]
            if isinstance(value, torch.Tensor):
                parts.append(value.detach().double().cpu().reshape(-1))
            elif isinstance(value, (int, float)):
                parts.append(torch.tensor([float(value)], dtype=torch.float64))
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.float64)


def _refit(pipeline: Pipeline, x: torch.Tensor) -> Pipeline:
    specs = [{"name": s["name"], **s["options"]} for s in pipeline.state_dict()["steps"]]
    return build_pipeline(specs).fit(x)


def relative_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """‖a − b‖ / ‖b‖ (‖a − b‖ when b = 0)."""
    if a.shape != b.shape:
        return math.inf
    diff = float((a - b).norm())
    norm = float(b.norm())
    return diff / norm if norm > 0 else diff


def check_fit_on_train(pipeline: Pipeline, x_train: torch.Tensor, x_val: torch.Tensor, x_test: torch.Tensor,
                       cfg: DoctorConfig) -> Finding:
    """Refit the pipeline's steps on raw train / test / everything and see which one it matches."""
    if len(pipeline) == 0:
        return Finding("data_fit_on_train", "pass", None, "no preprocessing statistics to check", {})
    mine = _stats_vector(pipeline)
    d_train = relative_distance(mine, _stats_vector(_refit(pipeline, x_train)))
    d_test = relative_distance(mine, _stats_vector(_refit(pipeline, x_test)))
    d_all = relative_distance(mine, _stats_vector(_refit(pipeline, torch.cat([x_train, x_val, x_test]))))
    numbers = {"d_train": d_train, "d_test": d_test, "d_all": d_all, "rtol": cfg.fit_rtol}
    names = [s.name for s in pipeline]
    if d_train <= cfg.fit_rtol:
        return Finding("data_fit_on_train", "pass", None,
                       f"preprocessing {names} statistics equal a refit on the training split "
                       f"(relative distance {d_train:.2g} ≤ {cfg.fit_rtol})", numbers)
    if d_test <= cfg.fit_rtol or d_all <= cfg.fit_rtol:
        which = "the TEST split" if d_test <= d_all else "the whole data set (train + val + test)"
        return Finding("data_fit_on_train", "fail", None,
                       f"preprocessing {names} was fitted on {which}, not on the training split "
                       f"(distance to a refit on train {d_train:.3g}, on test {d_test:.3g}, on all {d_all:.3g}): "
                       "test data leaks into training — fit the statistics on x_train only and apply them "
                       "unchanged to val/test (pipeline.fit(x_train))", numbers)
    return Finding("data_fit_on_train", "warn", None,
                   f"preprocessing {names} statistics match no refit (distance to train {d_train:.3g}): "
                   "they were fitted on other data — refit them on this recipe's training split", numbers)
