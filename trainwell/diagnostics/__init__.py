"""Diagnostics: gradient check, per-layer statistics, LR range test, initialization experiment.

Measuring (hooks → plain records), analysing (result objects) and plotting
(`trainwell.report.diagnostics_plots`) are kept apart; nothing here imports matplotlib.
"""
from trainwell.diagnostics.callback import StatsCallback
from trainwell.diagnostics.capture import LayerStats
from trainwell.diagnostics.gradcheck import GradcheckResult, TensorCheck, gradcheck
from trainwell.diagnostics.init_stats import InitStatsResult, LayerInitStats, init_stats
from trainwell.diagnostics.lr_finder import LRFinderResult, lr_find

__all__ = [
    "GradcheckResult",
    "InitStatsResult",
    "LRFinderResult",
    "LayerInitStats",
    "LayerStats",
    "StatsCallback",
    "TensorCheck",
    "gradcheck",
    "init_stats",
    "lr_find",
]
