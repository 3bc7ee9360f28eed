"""PREPROCESSORS: name -> preprocessor class, for recipes and `build_pipeline`.

    >>> PREPROCESSORS.build({"name": "pca", "k": 10})
    PCA(k=10; not fitted)
    >>> preprocessor_from_state_dict(torch.load(path, weights_only=True))   # rebuilt and loaded
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trainwell.errors import UserError
from trainwell.preprocess.base import Preprocessor
from trainwell.preprocess.center import Center, MeanImage
from trainwell.preprocess.channel import ChannelMean, ChannelStandardize
from trainwell.preprocess.minmax import MinMax
from trainwell.preprocess.pca import PCA, PCAWhiten
from trainwell.preprocess.standardize import GlobalStandardize, Standardize
from trainwell.preprocess.zca import ZCAWhiten
from trainwell.registry import Registry

PREPROCESSORS = Registry("preprocessor")
PREPROCESSORS.add("center", Center, "zero-centering: subtract the per-feature training mean")
PREPROCESSORS.add("standardize", Standardize, "per-feature (x - mean) / std from the training set")
PREPROCESSORS.add("global_standardize", GlobalStandardize, "(x - m) / s with one scalar mean and std")
PREPROCESSORS.add("minmax", MinMax, "per-feature affine map of the training [min, max] onto [-1, 1]")
PREPROCESSORS.add("mean_image", MeanImage, "AlexNet: subtract the mean training image (C×H×W)")
PREPROCESSORS.add("channel_mean", ChannelMean, "VGG: subtract the per-channel training mean")
PREPROCESSORS.add("channel_standardize", ChannelStandardize, "ResNet: per-channel (x - mean) / std")
PREPROCESSORS.add("pca", PCA, "project onto the k leading principal components (N×k)")
PREPROCESSORS.add("pca_whiten", PCAWhiten, "PCA then unit variance per component (N×k, Cov ≈ I)")
PREPROCESSORS.add("zca_whiten", ZCAWhiten, "ZCA whitening: Cov ≈ I, same shape, closest to the input")


def preprocessor_from_state_dict(sd: Mapping[str, Any]) -> Preprocessor:
    """Rebuild a preprocessor from its `state_dict()` (name + options) and load its statistics."""
    if not isinstance(sd, Mapping) or "name" not in sd:
        raise UserError(f"a preprocessor state dict needs a 'name' key, got {type(sd).__name__}")
    options = sd.get("options", {})
    if not isinstance(options, Mapping):
        raise UserError(f"preprocessor state dict: 'options' must be a dict, got {type(options).__name__}")
    step = PREPROCESSORS.build({"name": sd["name"], **options})
    return step.load_state_dict(sd)
