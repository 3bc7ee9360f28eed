"""The per-trial training loss: mean cross-entropy of each trial's own batch, and its gradient.

For trial k with logits ``z[k]`` (B×C) and labels ``y[k]`` (B):

    loss_k = (1/B) Σ_b [ log Σ_c exp z[k,b,c] − z[k,b,y[k,b]] ]          (= F.cross_entropy, mean)
    ∂(Σ_k loss_k)/∂z[k,b,c] = (softmax(z[k,b])_c − [c = y[k,b]]) / B

Layout matters on a CPU: ``log_softmax`` over a last dim of 10 classes is a slow, barely
vectorized loop, while over dim 1 of a K×C×B tensor it runs along B. Measured (32 × 100
examples, 10 classes, 1 thread, forward + backward): 1.10 ms on K·B×C rows vs 0.24 ms on the
K×C×B copy. Both functions therefore work on ``z.transpose(1, 2)`` made contiguous.

Example:
    >>> z, y = torch.zeros(2, 4, 3), torch.zeros(2, 4, dtype=torch.long)
    >>> per_trial_cross_entropy(z, y)  # log 3 for uniform logits
    tensor([1.0986, 1.0986])
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def per_trial_cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """K-vector of mean cross-entropies, differentiable (autograd engines); logits K×B×C, y K×B."""
    return F.cross_entropy(logits.transpose(1, 2).contiguous(), y, reduction="none").mean(1)


@torch.no_grad()
def cross_entropy_and_grad(logits: torch.Tensor, y: torch.Tensor,
                           out: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(K-vector of mean cross-entropies, ∂Σloss/∂logits as a K×B×C view) without autograd.
    `out`: an optional K×C×B buffer to work in (the gradient is a view of it)."""
    b = logits.shape[1]
    if out is None:
        log_p = torch.log_softmax(logits.transpose(1, 2).contiguous(), dim=1)  # K×C×B
    else:  # log p = z − logsumexp(z), in place in the buffer
        log_p = out.copy_(logits.transpose(1, 2))
        log_p.sub_(torch.logsumexp(log_p, dim=1, keepdim=True))
    target = y.unsqueeze(1)  # K×1×B
    loss = log_p.gather(1, target).squeeze(1).mean(1).neg_()
    grad = log_p.exp_()
    grad.scatter_add_(1, target, torch.full(target.shape, -1.0, dtype=grad.dtype, device=grad.device))
    grad.mul_(1.0 / b)
    return loss, grad.transpose(1, 2)
