"""Fit-on-train preprocessing: statistics from the training split, applied unchanged to all splits.

Every transform has fit(x) -> self, transform(x), inverse_transform(y), fit_transform(x),
state_dict() / load_state_dict(sd) (weights_only-safe), a `fitted` property and a readable repr.
See `base.py` for the data conventions.
"""
from trainwell.preprocess.base import NotFittedError, Preprocessor
from trainwell.preprocess.center import Center, MeanImage, center, feature_mean
from trainwell.preprocess.channel import ChannelMean, ChannelStandardize, channel_mean_std
from trainwell.preprocess.minmax import MinMax, minmax_scale
from trainwell.preprocess.pca import PCA, PCAWhiten, eigen_basis
from trainwell.preprocess.pipeline import Pipeline, build_pipeline
from trainwell.preprocess.registry import PREPROCESSORS, preprocessor_from_state_dict
from trainwell.preprocess.standardize import GlobalStandardize, Standardize, mean_std, standardize
from trainwell.preprocess.zca import ZCAWhiten, zca_matrix

__all__ = [
    "PCA",
    "PREPROCESSORS",
    "Center",
    "ChannelMean",
    "ChannelStandardize",
    "GlobalStandardize",
    "MeanImage",
    "MinMax",
    "NotFittedError",
    "PCAWhiten",
    "Pipeline",
    "Preprocessor",
    "Standardize",
    "ZCAWhiten",
    "build_pipeline",
    "center",
    "channel_mean_std",
    "eigen_basis",
    "feature_mean",
    "mean_std",
    "minmax_scale",
    "preprocessor_from_state_dict",
    "standardize",
    "zca_matrix",
]
