"""Data checks (babysitting step 1, "preprocess the data"), as pure functions of tensors.

    nonfinite_inputs     NaN or Inf in the inputs the model receives → fail
    inputs_unnormalized  the first layer's input x (after preprocessing): |mean(x)| > center_tol·std(x)
                         or std(x) outside scale_band → warn (one global mean and std: per-feature
                         offsets such as constant border pixels are a property of the data, not a fault)
    feature_scale        one input feature's std > feature_scale_ratio (100) × the median feature std
                         (non-constant features) → warn: that feature dominates every dot product
    constant features    σ_j ≤ rtol·(1 + |μ_j|) on the training split → info (they carry no information;
                         harmless — standardize leaves them at 0)
    preprocessing_leak   the pipeline's statistics must equal a fresh fit on the TRAINING split:
                         refit the same steps on raw train, raw test and raw train+val+test and compare
                         the stored statistics by relative distance d(a, b) = ‖a − b‖ / ‖b‖:
                           d_train ≤ fit_rtol                      → pass
                           d_test ≤ fit_rtol or d_all ≤ fit_rtol   → fail (fitted on test / on all the data)
                           otherwise                               → warn (fitted on some other data)
    duplicates_across_splits  fraction of validation/test examples with an exact or near copy in the
                         training split (‖a − b‖ ≤ dup_rtol·‖a‖ after centering) > dup_warn (1 %) → warn:
                         the held-out figures measure memory, not generalization
    unshuffled_batches   the labels of the first batches the run actually trains on: mean share of a
                         batch's most frequent label exceeds that of the same labels in random order by
                         more than batch_purity_excess (0.25) → warn (sorted data, no shuffling)

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
from trainwell.doctor.finding import Finding, Prescription, passed
from trainwell.preprocess import Pipeline, build_pipeline


def feature_moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-feature mean μ_j and population std σ_j over the examples (float64)."""
    flat = x.reshape(len(x), -1).double()
    mean = flat.mean(0)
    return mean, (flat - mean).square().mean(0).sqrt()


def check_finite(splits: dict[str, torch.Tensor | None]) -> Finding:
    from trainwell.doctor.subject import count_nonfinite, nonfinite_finding

    bad = count_nonfinite(splits)
    if bad:
        return nonfinite_finding(bad)
    return passed("nonfinite_inputs", "no NaN or Inf in the inputs the model receives")


def normalize_prescription(x: torch.Tensor, recipe_has_pipeline: bool) -> Prescription:
    """The standardization that fits the input's shape: per feature for N×F, per channel for
    signals and images (per-position statistics would break a ConvNet's translation equivariance)."""
    step = "standardize" if x.dim() == 2 else "channel_standardize"
    code = ("mean, std = x_train.mean(0), x_train.std(0) + 1e-8  # training split only; apply to every split"
            if x.dim() == 2 else
            "mean = x_train.mean((0, *range(2, x_train.dim())), keepdim=True)[0]; std = ...  # per channel, train only")
    return Prescription(f"standardize the inputs ({step}, statistics of the training split only)",
                        edits={"data.preprocess": [step]}, code=code, direction={"data.preprocess": "set"})


def check_normalization(x: torch.Tensor, cfg: DoctorConfig, has_pipeline: bool) -> Finding:
    """inputs_unnormalized from one global mean and std of what the first layer receives."""
    f = x.double()
    mean, std = float(f.mean()), float(f.std(unbiased=False))
    lo, hi = cfg.scale_band
    evidence = {"mean": mean, "std": std, "center_tol": cfg.center_tol, "scale_band": [lo, hi]}
    off_center = abs(mean) > cfg.center_tol * std
    off_scale = not lo <= std <= hi
    if not (off_center or off_scale):
        return passed("inputs_unnormalized", f"inputs normalized (mean {mean:.3g}, std {std:.3g})", evidence)
    why = []
    if off_center:
        why.append(f"|mean| {abs(mean):.3g} > {cfg.center_tol:g}·std {std:.3g} (not zero-centered: every weight "
                   "gradient of a first-layer unit shares one sign, so updates zig-zag)")
    if off_scale:
        why.append(f"std {std:.3g} outside [{lo:g}, {hi:g}] (the first layer's pre-activations are "
                   f"{std:.3g}× what the init assumes: units saturate or die, the usable learning rate shifts)")
    return Finding("inputs_unnormalized", "warn", "the inputs are not normalized: " + "; ".join(why), evidence,
                   None, normalize_prescription(x, has_pipeline), stage="data")


def check_feature_scale(x: torch.Tensor, cfg: DoctorConfig) -> Finding:
    _, std = feature_moments(x)
    live = std[std > 1e-12]
    if live.numel() < 3:
        return passed("feature_scale", "too few varying features to compare scales")
    med = float(live.median())
    j = int(std.argmax())
    ratio = float(std[j]) / med if med > 0 else math.inf
    evidence = {"max_std": float(std[j]), "median_std": med, "ratio": ratio, "feature": j,
                "threshold": cfg.feature_scale_ratio}
    if ratio <= cfg.feature_scale_ratio:
        return passed("feature_scale", f"feature scales comparable (largest std {ratio:.3g}× the median)", evidence)
    big = int((std > cfg.feature_scale_ratio * med).sum())
    return Finding("feature_scale", "warn",
                   f"input feature {j} has std {float(std[j]):.3g}, {ratio:.0f}× the median feature std {med:.3g} "
                   f"({big} feature(s) above {cfg.feature_scale_ratio:g}×): it dominates every first-layer dot "
                   "product and the gradient, the other features barely count",
                   evidence, f"feature {j}",
                   Prescription("standardize each feature (its own mean and std, fitted on the training split)",
                                edits={"data.preprocess": ["standardize"]},
                                code="x = (x - x_train.mean(0)) / (x_train.std(0) + 1e-8)",
                                direction={"data.preprocess": "set"}), stage="data")


def check_constant(x_raw: torch.Tensor, cfg: DoctorConfig) -> Finding:
    mean, std = feature_moments(x_raw)
    const = std <= cfg.constant_rtol * (1 + mean.abs())
    n, d = int(const.sum()), std.numel()
    evidence = {"constant_features": n, "features": d, "rtol": cfg.constant_rtol}
    if n:
        idx = const.nonzero().flatten()[:10].tolist()
        return Finding("constant_features", "info",
                       f"{n} of {d} input features are constant on the training split (e.g. {idx}): a property of "
                       "the data (they carry no information and do no harm)", evidence, stage="data")
    return passed("constant_features", f"no constant features among {d}", evidence)


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
        return passed("preprocessing_leak", "no preprocessing statistics to check")
    mine = _stats_vector(pipeline)
    d_train = relative_distance(mine, _stats_vector(_refit(pipeline, x_train)))
    d_test = relative_distance(mine, _stats_vector(_refit(pipeline, x_test)))
    d_all = relative_distance(mine, _stats_vector(_refit(pipeline, torch.cat([x_train, x_val, x_test]))))
    evidence = {"d_train": d_train, "d_test": d_test, "d_all": d_all, "rtol": cfg.fit_rtol}
    names = [s.name for s in pipeline]
    if d_train <= cfg.fit_rtol:
        return passed("preprocessing_leak", f"preprocessing {names} statistics equal a refit on the training split "
                      f"(relative distance {d_train:.2g} ≤ {cfg.fit_rtol})", evidence)
    fix = Prescription("fit the statistics on x_train only and apply them unchanged to val/test",
                       code="pipeline.fit(x_train); x_val, x_test = pipeline.transform(x_val), pipeline.transform(x_test)")
    if d_test <= cfg.fit_rtol or d_all <= cfg.fit_rtol:
        which = "the TEST split" if d_test <= d_all else "the whole data set (train + val + test)"
        return Finding("preprocessing_leak", "fail",
                       f"preprocessing {names} was fitted on {which}, not on the training split (distance to a "
                       f"refit on train {d_train:.3g}, on test {d_test:.3g}, on all {d_all:.3g}): test data leaks "
                       "into training", evidence, None, fix, stage="data")
    return Finding("preprocessing_leak", "warn",
                   f"preprocessing {names} statistics match no refit (distance to train {d_train:.3g}): they were "
                   "fitted on other data", evidence, None, fix, stage="data")


def _centered_rows(x: torch.Tensor, mean: torch.Tensor, dims: int, gen: torch.Generator) -> torch.Tensor:
    flat = x.reshape(len(x), -1).double() - mean
    if flat.shape[1] > dims:  # a random projection keeps distances (Johnson–Lindenstrauss)
        proj = torch.randn(flat.shape[1], dims, generator=gen, dtype=torch.float64) / math.sqrt(dims)
        return flat @ proj.to(flat.device)
    return flat


def duplicate_fraction(x_train: torch.Tensor, x_other: torch.Tensor, rtol: float, seed: int = 0) -> tuple[float, int]:
    """(fraction, count) of rows of `x_other` with an exact or near copy in `x_train`
    (‖a − b‖ ≤ rtol·‖a‖ after centering by the training mean; candidates found in a 64-dim random
    projection, confirmed in the full space)."""
    if len(x_other) == 0 or len(x_train) == 0:
        return 0.0, 0
    a = x_train.reshape(len(x_train), -1).double()
    b = x_other.reshape(len(x_other), -1).double().to(a.device)
    mean = a.mean(0)
    gen = torch.Generator().manual_seed(seed)
    pa, pb = _centered_rows(a, mean, 64, gen), None
    gen = torch.Generator().manual_seed(seed)
    pb = _centered_rows(b, mean, 64, gen)
    hits = 0
    for i in range(0, len(pb), 512):
        d = torch.cdist(pb[i:i + 512], pa)
        nearest = d.argmin(1)
        rows = b[i:i + 512] - mean
        diff = (rows - (a[nearest] - mean)).norm(dim=1)
        hits += int((diff <= rtol * rows.norm(dim=1).clamp_min(1e-12)).sum())
    return hits / len(b), hits


def check_duplicates(x_train: torch.Tensor, others: dict[str, torch.Tensor | None], cfg: DoctorConfig) -> Finding:
    gen = torch.Generator().manual_seed(cfg.seed + 21)
    keep = torch.randperm(len(x_train), generator=gen)[: 2 * cfg.dup_max].to(x_train.device)
    train = x_train[keep]
    evidence: dict[str, Any] = {"threshold": cfg.dup_warn, "rtol": cfg.dup_rtol, "train_compared": len(train)}
    worst_split, worst = None, 0.0
    for split, x in others.items():
        if x is None or len(x) == 0:
            continue
        x = x[: cfg.dup_max]
        frac, count = duplicate_fraction(train, x, cfg.dup_rtol, cfg.seed)
        evidence[f"{split}_fraction"], evidence[f"{split}_count"], evidence[f"{split}_compared"] = frac, count, len(x)
        if frac > worst:
            worst_split, worst = split, frac
    if worst_split is None or worst <= cfg.dup_warn:
        return passed("duplicates_across_splits",
                      f"no exact or near duplicates shared between the training and held-out splits "
                      f"(most: {worst:.1%})", evidence)
    return Finding("duplicates_across_splits", "warn",
                   f"{worst:.1%} of the {worst_split} examples have an exact or near copy in the training split "
                   f"(> {cfg.dup_warn:.0%}; ‖a − b‖ ≤ {cfg.dup_rtol:g}·‖a‖): the held-out figures measure memory, "
                   "not generalization", evidence, None,
                   Prescription("deduplicate before splitting (drop copies, or split by group so that copies stay "
                                "in one split)", code="x, idx = np.unique(x.reshape(len(x), -1), axis=0, "
                                                      "return_index=True); y = y[idx]  # before the split"),
                   stage="data")


def batch_purity(batches: list[torch.Tensor]) -> float:
    """Mean share of the most frequent label per batch."""
    shares = []
    for y in batches:
        if y.numel():
            shares.append(float(torch.bincount(y.reshape(-1).long().cpu()).max()) / y.numel())
    return sum(shares) / len(shares) if shares else math.nan


def check_batch_order(batches: list[torch.Tensor], y_train: torch.Tensor, cfg: DoctorConfig, kind: str) -> Finding:
    """unshuffled_batches: the run's first batches vs the same labels drawn in random order."""
    if len(batches) < 2 or y_train.dim() != 1 or torch.is_floating_point(y_train):
        return passed("unshuffled_batches", "batch order not checked (no class labels)")
    size = max(len(b) for b in batches)
    gen = torch.Generator().manual_seed(cfg.seed + 31)
    perm = y_train.cpu()[torch.randperm(len(y_train), generator=gen)]
    random = [perm[i:i + size] for i in range(0, min(len(perm), size * len(batches)), size) if len(perm[i:i + size]) == size]
    observed, expected = batch_purity(batches), batch_purity(random or [perm])
    evidence = {"batch_purity": observed, "random_purity": expected, "excess": cfg.batch_purity_excess,
                "batches": len(batches), "batch_size": size}
    if observed - expected <= cfg.batch_purity_excess:
        return passed("unshuffled_batches", f"batches mix the classes (most frequent label {observed:.0%} of a batch, "
                      f"{expected:.0%} in random order)", evidence)
    fix = Prescription("shuffle the training data every epoch", edits={"train.shuffle": True},
                       code="DataLoader(train_set, batch_size=..., shuffle=True)", direction={"train.shuffle": "set"})
    return Finding("unshuffled_batches", "warn",
                   f"the training batches are not mixed: on average {observed:.0%} of a batch has the same label "
                   f"({expected:.0%} in random order) — the data is sorted and not shuffled, so each step pulls the "
                   "model towards one class and the loss swings from batch to batch", evidence, None, fix, stage="data")


__all__ = ["batch_purity", "check_batch_order", "check_constant", "check_duplicates", "check_feature_scale",
           "check_finite", "check_fit_on_train", "check_normalization", "duplicate_fraction", "feature_moments",
           "normalize_prescription", "relative_distance"]
