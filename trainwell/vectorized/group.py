"""`Group`: a set of trials trained as one batched model — its parameters, engine, optimizer and streams.

`train_many` splits K trials into groups of at most `group_size` and steps the groups in
lockstep (group 1's step t, group 2's step t, ...). Trials never interact, so the result is the
same for any grouping; what changes is the size of each batched step. On a CPU, grouped
convolutions over K·C channels slow down as K grows (the activations of one step stop fitting
the caches), so models with convolutions train in groups of 8 there. Measured (1 thread, CPU
seconds, median of repeats, 32 trials; a 2-core machine shared with other jobs):

    model (engine)                          1 group of 32   groups of 16   groups of 8
    ensemble ConvNet, 60 steps (batched)         15.7 s          13.0 s        12.0 s
    paper MLP, 300 steps (mlp)                    1.82 s          1.82 s        2.06 s
    paper MLP + LayerNorm, 300 steps (vmap)       4.17 s          4.17 s        4.94 s

Without convolutions, or on a GPU (where one launch per layer for all K is the point), there is
one group.
"""
from __future__ import annotations

import torch
from torch import nn

from trainwell.vectorized.dropout import stacked_masks
from trainwell.vectorized.flat import FlatStack
from trainwell.vectorized.hparams import Trial
from trainwell.vectorized.stacked_optim import StackedOptimizer
from trainwell.vectorized.streams import BatchOrder, dropout_generator

CPU_CONV_GROUP = 8  # trials per batched step for models with convolutions on a CPU (module docstring)


def has_conv(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.conv._ConvNd) for m in model.modules())


def default_group_size(k: int, device: torch.device, model: nn.Module) -> int:
    """`CPU_CONV_GROUP` trials per batched step for a model with convolutions on a CPU, else all K."""
    return min(k, CPU_CONV_GROUP) if device.type == "cpu" and has_conv(model) else k


def gather(x: torch.Tensor, idx: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """``x[idx]`` for K×B indices as one ``index_select`` (K×B×...), into `out` if given; measured
    0.03–0.07 ms vs 0.25–0.28 ms for advanced indexing (32×100 rows of 40 numbers, 1 thread)."""
    shape = tuple(idx.shape) + tuple(x.shape[1:])
    if out is None:
        return x.index_select(0, idx.reshape(-1)).view(shape)
    return torch.index_select(x, 0, idx.reshape(-1), out=out.view((-1,) + tuple(x.shape[1:]))).view(shape)


class Group:
    """Trials `trials` (with their freshly built `models`) as one batched model run by `engine`
    (an `Engine` of `train_many`); `step` trains one step, `evaluate` gives accuracies."""

    def __init__(self, trials: list[Trial], models: list[nn.Module], template: nn.Module, engine, optimizer: str,
                 decayed: set[str], n: int, batch_size: int, device: torch.device, dtype: torch.dtype):
        self.trials, self.engine, self.k = trials, engine, len(trials)
        self.stack = FlatStack.from_models(models, decayed, requires_grad=engine.autograd, device=device)
        self.order = BatchOrder([t.seed for t in trials], n, batch_size, device)
        self.drop_gens = [dropout_generator(t.seed, device) for t in trials] if engine.sites else []
        self.site_rates = [[t.dropout if t.dropout is not None else float(template.get_submodule(name).p) for t in trials]
                           for name in engine.sites]
        fdev = dict(device=device, dtype=self.stack.data.dtype)
        self.lr0 = torch.tensor([t.lr for t in trials], **fdev)
        self.opt = StackedOptimizer(self.stack, optimizer,
                                    weight_decay=torch.tensor([t.weight_decay for t in trials], **fdev),
                                    momentum=torch.tensor([t.momentum for t in trials], **fdev))
        self.device, self.dtype = device, dtype  # dtype: of the inputs, for the dropout masks
        self.batch: tuple[torch.Tensor, torch.Tensor] | None = None

    def draw_mask(self, site: int, shape: tuple[int, ...], channelwise: bool) -> torch.Tensor | None:
        """K×... dropout masks of site `site`, one per trial from its own stream (None: no dropout here)."""
        rates = self.site_rates[site]
        if all(p == 0.0 for p in rates):
            return None
        return stacked_masks(self.drop_gens, rates, shape, channelwise, self.dtype, self.device)

    def step(self, x: torch.Tensor, y: torch.Tensor, lr_factor: float) -> torch.Tensor:
        """One optimizer step of every trial on its next batch; the K per-trial mean losses."""
        idx = self.order.next()
        if self.batch is None:  # reused every step (no fresh pages to fault in)
            self.batch = (gather(x, idx), gather(y, idx))
        else:
            gather(x, idx, self.batch[0]), gather(y, idx, self.batch[1])
        loss = self.engine.loss_and_grad(self.stack, *self.batch, self.draw_mask)
        self.opt.step(self.lr0 * lr_factor)
        return loss

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, y: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
        """K accuracies (fraction of argmax = label) on the shared inputs `x` (eval mode: no dropout),
        `chunk` examples at a time, each chunk's logits read before the next is computed."""
        forward = self.engine.scratch_forward or self.engine.forward
        correct = torch.zeros(self.k, device=self.device)
        for start in range(0, x.shape[0], chunk):
            xc = x[start : start + chunk]
            logits = forward(self.stack.params, xc.unsqueeze(0).expand((self.k,) + tuple(xc.shape)), None)
            correct += (logits.argmax(-1) == y[start : start + chunk]).sum(-1)
        return correct / x.shape[0]

    def params(self) -> dict[str, torch.Tensor]:
        return self.stack.detached()

