"""`SyncBatchNorm` for CPU processes (gloo): BatchNorm over the global batch of a data-parallel run.

torch's `nn.SyncBatchNorm` runs on GPUs only (it refuses CPU tensors); this one does the same job
with plain tensor ops and one all-reduce each way, so a data-parallel run on CPUs normalizes like
one process with the whole batch. For each channel c, over the examples (and positions) of all N
processes — n_r values in process r, n = Σ n_r:

    forward:  each process: mean_r, var_r of its own values (`torch.var_mean`, exact in float32);
              ONE all_reduce (float64) of [n_r·mean_r, n_r·(var_r + mean_r²), n_r] gives
              μ = Σ n_r·mean_r / n,   σ² = Σ n_r·(var_r + mean_r²) / n − μ²   (biased, as BatchNorm)
              y = γ·x̂ + β,  x̂ = (x − μ)/sqrt(σ² + eps)
              running_mean ← (1 − m)·running_mean + m·μ,  running_var ← (1 − m)·running_var + m·σ²·n/(n − 1)
    backward: with g = ∂ℓ_r/∂y on this process's values, ONE all_reduce of [Σ g, Σ g·x̂] over all of them:
              ∂ℓ/∂x = γ/sqrt(σ² + eps) · (g − Σg/n − x̂·Σ(g·x̂)/n),
              ∂ℓ/∂γ = Σ_this process g·x̂,  ∂ℓ/∂β = Σ_this process g

The parameter gradients are this process's share: DistributedDataParallel averages them over the
processes, as it does every other gradient (torch's SyncBatchNorm makes the same split). Outside
training mode, or without a process group of several processes, it is plain BatchNorm (running
statistics in eval mode, this process's batch otherwise).

Example (in a data-parallel run; `trainwell.train.distributed.sync_batchnorm` picks this on the CPU):
    >>> model = convert_sync_batchnorm(model)   # every BatchNorm1d/2d/3d → SyncBatchNorm, same parameters
"""
from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def _shape(x: torch.Tensor) -> list[int]:
    return [1, x.shape[1]] + [1] * (x.dim() - 2)


class _SyncBatchNormFunction(torch.autograd.Function):
    """The forward/backward of the module docstring (x: N×C×…; weight/bias: C or None)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None,
                running_mean: torch.Tensor | None, running_var: torch.Tensor | None, eps: float,
                momentum: float, group: Any) -> torch.Tensor:
        dims = [0, *range(2, x.dim())]
        c = x.shape[1]
        var_r, mean_r = torch.var_mean(x, dim=dims, correction=0)
        count = x.numel() // c
        mean_r, var_r = mean_r.double(), var_r.double()
        packed = torch.cat([mean_r * count, (var_r + mean_r * mean_r) * count, mean_r.new_full((1,), float(count))])
        dist.all_reduce(packed, group=group)
        n = packed[-1]
        mean = packed[:c] / n
        var = (packed[c:2 * c] / n - mean * mean).clamp_(min=0.0)
        if running_mean is not None and running_var is not None:
            running_mean.mul_(1.0 - momentum).add_(mean.to(running_mean.dtype), alpha=momentum)
            unbiased = var * n / (n - 1).clamp(min=1.0)
            running_var.mul_(1.0 - momentum).add_(unbiased.to(running_var.dtype), alpha=momentum)
        shape = _shape(x)
        mean_x = mean.to(x.dtype)
        invstd = torch.rsqrt(var + eps).to(x.dtype)
        xhat = (x - mean_x.view(shape)) * invstd.view(shape)
        ctx.save_for_backward(x, weight, mean_x, invstd)
        ctx.n, ctx.group = n, group
        if weight is None:
            return xhat
        return xhat * weight.view(shape) + bias.view(shape) if bias is not None else xhat * weight.view(shape)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[Any, ...]:
        x, weight, mean, invstd = ctx.saved_tensors
        shape = _shape(x)
        dims = [0, *range(2, x.dim())]
        xhat = (x - mean.view(shape)) * invstd.view(shape)
        sum_g = g.sum(dims)
        sum_gx = (g * xhat).sum(dims)
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:  # every process has the same graph: all take part, or none
            c = x.shape[1]
            packed = torch.cat([sum_g, sum_gx]).double()
            dist.all_reduce(packed, group=ctx.group)
            n = ctx.n
            mean_g = (packed[:c] / n).to(g.dtype)
            mean_gx = (packed[c:] / n).to(g.dtype)
            scale = invstd if weight is None else invstd * weight
            grad_x = (g - mean_g.view(shape) - xhat * mean_gx.view(shape)) * scale.view(shape)
        if weight is not None and ctx.needs_input_grad[1]:
            grad_w = sum_gx
        if ctx.needs_input_grad[2]:
            grad_b = sum_g
        return grad_x, grad_w, grad_b, None, None, None, None, None


class SyncBatchNorm(_BatchNorm):
    """BatchNorm over all processes of a data-parallel run, on the CPU (see the module docstring).

    Takes N×C×… input of any rank ≥ 2 (what BatchNorm1d/2d/3d take); its parameters, buffers and
    state-dict keys are BatchNorm's."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, process_group: Any = None, device: Any = None, dtype: Any = None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device=device, dtype=dtype)
        self.process_group = process_group

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"SyncBatchNorm expects input of shape N×C×… (at least 2-D), got {input.dim()}-D")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        running_mean = self.running_mean if not self.training or self.track_running_stats else None
        running_var = self.running_var if not self.training or self.track_running_stats else None
        group = self.process_group or (dist.group.WORLD if dist.is_available() and dist.is_initialized() else None)
        sync = self.training and batch_stats and group is not None and dist.get_world_size(group) > 1
        if not sync or input.numel() == 0:
            return F.batch_norm(input, running_mean, running_var, self.weight, self.bias, batch_stats, factor, self.eps)
        return _SyncBatchNormFunction.apply(input, self.weight, self.bias, running_mean, running_var, self.eps,
                                            factor, group)


def convert_sync_batchnorm(module: nn.Module, process_group: Any = None) -> nn.Module:
    """`module` with every BatchNorm1d/2d/3d replaced by a `SyncBatchNorm` that holds the SAME
    parameter and buffer objects (an optimizer built before stays valid); the root itself when it
    is a BatchNorm. Other modules are changed in place."""
    if isinstance(module, _BatchNorm) and not isinstance(module, (SyncBatchNorm, nn.SyncBatchNorm)):
        out = SyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                            module.track_running_stats, process_group)
        if module.affine:
            out.weight, out.bias = module.weight, module.bias
        out.running_mean, out.running_var = module.running_mean, module.running_var
        out.num_batches_tracked = module.num_batches_tracked
        out.train(module.training)
        return out
    for name, child in module.named_children():
        new = convert_sync_batchnorm(child, process_group)
        if new is not child:
            setattr(module, name, new)
    return module


__all__ = ["SyncBatchNorm", "convert_sync_batchnorm"]
