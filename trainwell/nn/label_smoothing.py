"""Label smoothing (Szegedy, Vanhoucke, Ioffe, Shlens & Wojna 2016, "Rethinking the Inception
architecture").

Replace the target distribution q by q' = (1 − ε)·q + ε/C (C classes) and minimize the cross
entropy  L = −Σ_c q'_c · log softmax(z)_c, averaged over the batch. The model is no longer pushed
to infinite logit gaps, which regularizes and calibrates it.

Targets: hard class indices (N, or N×d1×… of int64, logits N×C×d1×…) — then q is one-hot and this
equals `torch.nn.functional.cross_entropy(logits, target, label_smoothing=ε)` — or soft targets
(N×C floats, rows summing to 1, e.g. from Mixup/CutMix).

Example:
    >>> logits, labels = torch.tensor([[2.0, 0.0, 0.0]]), torch.tensor([0])
    >>> round(label_smoothing_cross_entropy(logits, labels, smoothing=0.0).item(), 4)  # log(1+2e^-2)
    0.2395
    >>> round(label_smoothing_cross_entropy(logits, labels, smoothing=0.3).item(), 4)
    0.6395
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainwell.errors import UserError


def label_smoothing_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, smoothing: float = 0.1, reduction: str = "mean"
) -> torch.Tensor:
    """−Σ_c ((1 − ε)·q_c + ε/C)·log softmax(logits)_c, reduced over examples ('mean', 'sum', 'none')."""
    if not 0.0 <= smoothing <= 1.0:
        raise UserError(f"label smoothing: smoothing must be in [0, 1], got {smoothing!r}")
    if reduction not in ("mean", "sum", "none"):
        raise UserError(f"label smoothing: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    if logits.dim() < 2:
        raise UserError(f"label smoothing: logits must be N×C (or N×C×…), found shape {tuple(logits.shape)}")
    num_classes = logits.shape[1]
    logp = F.log_softmax(logits, dim=1)
    if target.is_floating_point():
        if target.shape != logits.shape:
            raise UserError(
                f"label smoothing: soft targets must have the logits' shape {tuple(logits.shape)}, found {tuple(target.shape)}"
            )
        nll = -(target * logp).sum(dim=1)
    else:
        if target.shape != logits.shape[:1] + logits.shape[2:]:
            raise UserError(
                f"label smoothing: class-index targets must have shape {tuple(logits.shape[:1] + logits.shape[2:])}, "
                f"found {tuple(target.shape)}"
            )
        if target.numel() and (int(target.min()) < 0 or int(target.max()) >= num_classes):
            raise UserError(
                f"label smoothing: targets must be class indices in [0, {num_classes - 1}], "
                f"found range [{int(target.min())}, {int(target.max())}]"
            )
        nll = -logp.gather(1, target.unsqueeze(1)).squeeze(1)
    uniform = -logp.mean(dim=1)
    loss = (1.0 - smoothing) * nll + smoothing * uniform
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


class LabelSmoothingCrossEntropy(nn.Module):
    """Loss module around `label_smoothing_cross_entropy`; forward(logits, target)."""

    def __init__(self, smoothing: float = 0.1, reduction: str = "mean"):
        super().__init__()
        if not 0.0 <= smoothing <= 1.0:
            raise UserError(f"label smoothing: smoothing must be in [0, 1], got {smoothing!r}")
        self.smoothing, self.reduction = float(smoothing), reduction

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return label_smoothing_cross_entropy(logits, target, self.smoothing, self.reduction)

    def extra_repr(self) -> str:
        return f"smoothing={self.smoothing}"
