"""Diagnostics: gradient check, per-layer statistics, LR range test, initialization experiment.

Measuring (hooks → plain records), analysing (result objects) and plotting (trainwell.report)
are kept apart; nothing here imports matplotlib.
"""
from trainwell.diagnostics.gradcheck import GradcheckResult, TensorCheck, gradcheck

__all__ = ["GradcheckResult", "TensorCheck", "gradcheck"]
