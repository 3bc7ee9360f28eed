"""Weight averaging during training: exponential moving average (EMA) and Polyak/SWA averages,
on PyTorch's own `torch.optim.swa_utils` (AveragedModel, update_bn).

EMA (Polyak & Juditsky 1992; as used by e.g. Tan & Le 2019): the first update copies the weights,
then after optimizer step t (t = 1, 2, ...)
    θ̄ ← d_t·θ̄ + (1 − d_t)·θ,   d_t = min(decay, (1 + t)/(10 + t))
so early averages are not dominated by the first weights (the warm-up of TensorFlow's
ExponentialMovingAverage with num_updates).
Polyak/SWA averaging (Izmailov et al. 2018) is the plain mean of the weights from a start step on:
    θ̄ ← θ̄ + (θ − θ̄)/(n + 1)   (AveragedModel's default).
Averaged weights come with stale BatchNorm statistics; `recompute_bn_stats` re-estimates them with
one pass over training data (`update_bn`: cumulative average, momentum=None) for the averaged weights.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_swa_avg_fn, get_swa_multi_avg_fn, update_bn
from torch.utils._foreach_utils import _get_foreach_kernels_supported_devices

from trainwell.train.callbacks import Callback
from trainwell.train.evaluate import evaluate
from trainwell.train.state import TrainState


def ema_weight(decay: float, t: int) -> float:
    """The lerp weight 1 − d_t of EMA update t (t >= 1: the updates already averaged)."""
    return 1.0 - min(decay, (1 + t) / (10 + t))


class WeightAverage:
    """An `AveragedModel` of `model`: EMA with warm-up (`decay`) or the uniform mean (decay None).

    `update` averages with a count kept on the host: `AveragedModel.update_parameters` moves its
    count to the device and reads it back every call, a host sync per training step on CUDA."""

    def __init__(self, model: nn.Module, decay: float | None = 0.999):
        if decay is not None and not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.averaged = AveragedModel(model)
        self.averaged.requires_grad_(False)
        self._updates = 0

    @property
    def model(self) -> nn.Module:
        """The averaged network itself (same class and parameter names as the trained one)."""
        return self.averaged.module

    @property
    def updates(self) -> int:
        return self._updates

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One averaging step from the current weights of `model` (the first copies them, as
        AveragedModel's); buffers follow the model."""
        dst = list(self.model.parameters())
        src = [p.detach() for p in model.parameters()]
        t = self._updates
        if not dst:
            pass  # nothing to average
        elif t == 0:
            torch._foreach_copy_(dst, src)
        elif self.decay is not None:
            torch._foreach_lerp_(dst, src, ema_weight(self.decay, t))
        elif dst[0].device.type in _get_foreach_kernels_supported_devices():  # AveragedModel's uniform mean
            get_swa_multi_avg_fn()(dst, src, t)
        else:
            avg = get_swa_avg_fn()
            for a, b in zip(dst, src):
                a.copy_(avg(a, b, t))
        for b_dst, b_src in zip(self.model.buffers(), model.buffers()):
            b_dst.copy_(b_src)
        self._updates = t + 1
        self.averaged.n_averaged.fill_(self._updates)

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self._updates = int(state["updates"])
        self.averaged.n_averaged.fill_(self._updates)


@torch.no_grad()
def recompute_bn_stats(model: nn.Module, x: torch.Tensor, batch_size: int = 256) -> nn.Module:
    """Re-estimate every BatchNorm's running mean/var on `x` for the model's current weights
    (`update_bn` over whole batches of `batch_size`; the model's train/eval mode is kept)."""
    from trainwell.nn.kinds import batchnorms

    if not batchnorms(model):
        return model
    was_training = model.training
    n = len(x)
    batches = [x[i:i + batch_size] for i in range(0, n - batch_size + 1, batch_size)] if n >= batch_size else [x]
    update_bn(batches, model)
    model.train(was_training)
    return model


class EMACallback(Callback):
    """Keep an EMA of the weights; at the end evaluate it beside the raw weights.

    `summary(data)` returns val/test accuracy of the averaged model (BatchNorm statistics
    recomputed on the training set for the averaged weights).
    """

    order = 10

    def __init__(self, decay: float = 0.999, every: int = 1):
        self.decay = decay
        self.every = every
        self.average: WeightAverage | None = None

    def on_fit_start(self, state: TrainState) -> None:
        if self.average is None:
            self.average = WeightAverage(state.model, self.decay)
        pending = getattr(self, "_pending", None)
        if pending:
            self.average.load_state_dict(pending)
            self._pending = None

    def on_batch_end(self, state: TrainState) -> None:
        if state.step % self.every == 0:
            self.average.update(state.model)

    def state_dict(self) -> dict[str, Any]:
        return self.average.state_dict() if self.average is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state and self.average is not None:
            self.average.load_state_dict(state)
        elif state:
            self._pending = state

    def averaged_model(self, x_train: torch.Tensor) -> nn.Module:
        return recompute_bn_stats(self.average.model, x_train)

    def summary(self, data) -> dict[str, float]:
        model = self.averaged_model(data.x_train)
        return {
            "val_accuracy_ema": evaluate(model, data.x_val, data.y_val)["accuracy"],
            "test_accuracy_ema": evaluate(model, data.x_test, data.y_test)["accuracy"],
        }
