"""LSUV: layer-sequential unit-variance initialization (Mishkin & Matas 2015, "All you need is a
good init").

1. Initialize every Linear/Conv with an orthogonal matrix (Saxe et al. 2014), biases 0.
2. Going through the layers in order, feed one data batch through the model and rescale the
   layer's weight W ← W / √Var(output of the layer) until |Var − 1| < tol or max_iter rescalings.

Each layer is then scaled for the *actual* data and nonlinearities, so a deep net starts with unit
variance activations regardless of the activation function.

The model runs in eval mode during LSUV (dropout off, BatchNorm using its running statistics)
and is put back in its previous mode afterwards. The forward pass stops at the layer being
scaled, so the cost is about depth²/2 layer evaluations per iteration.

Example:
    >>> g = torch.Generator().manual_seed(0)
    >>> model = nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh())
    >>> variances = lsuv_(model, torch.randn(256, 10, generator=g) * 5, generator=g)
    >>> all(abs(v - 1) < 0.05 for v in variances.values())
    True
"""
from __future__ import annotations

import torch
from torch import nn

from trainwell.errors import UserError
from trainwell.nn.init import Orthogonal, init_layers


class _Reached(Exception):
    """Raised by the capture hook to stop the forward pass at the layer being scaled."""


def _output_variance(model: nn.Module, layer: nn.Module, x: torch.Tensor) -> float:
    captured: list[torch.Tensor] = []

    def hook(module: nn.Module, inputs: object, output: torch.Tensor) -> None:
        captured.append(output.detach())
        raise _Reached

    handle = layer.register_forward_hook(hook)
    try:
        model(x)
    except _Reached:
        pass
    finally:
        handle.remove()
    if not captured:
        raise UserError(f"lsuv_: layer {type(layer).__name__} was not used in the forward pass of the model")
    return captured[0].double().var().item()


def lsuv_(
    model: nn.Module,
    x_batch: torch.Tensor,
    tol: float = 0.05,
    max_iter: int = 10,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """Orthogonal init then rescale each Linear/Conv until its output variance on `x_batch` is 1 ± tol.

    Args:
        model: any module; its Linear/Conv1d/2d/3d layers are initialized in module order.
        x_batch: a batch of real inputs (a few hundred examples is plenty).
        tol: accepted |Var − 1|.
        max_iter: most rescalings per layer.
        generator: randomness of the orthogonal init (None: torch's default RNG).

    Returns:
        {layer name: output variance after LSUV}, in order.
    """
    if tol <= 0 or max_iter < 1:
        raise UserError(f"lsuv_: need tol > 0 and max_iter ≥ 1, got tol={tol}, max_iter={max_iter}")
    layers = list(init_layers(model))
    if not layers:
        raise UserError("lsuv_: the model has no nn.Linear or nn.Conv layer to initialize")
    was_training = model.training
    model.eval()
    scheme = Orthogonal(gain=1.0)
    result: dict[str, float] = {}
    try:
        with torch.no_grad():
            for _, layer in layers:
                scheme(layer, generator=generator)
            for name, layer in layers:
                var = _output_variance(model, layer, x_batch)
                for _ in range(max_iter):
                    if abs(var - 1.0) < tol:
                        break
                    if var <= 0.0:
                        raise UserError(f"lsuv_: layer {name!r} outputs a constant on x_batch (variance 0)")
                    layer.weight.div_(var**0.5)
                    var = _output_variance(model, layer, x_batch)
                result[name] = var
    finally:
        model.train(was_training)
    return result
