"""L1, L2 and elastic-net penalties as loss terms: loss = data_loss + R(W).

    l1_penalty(W)          = Σ |w|                 gradient sign(w)  (0 at w = 0)
    l2_penalty(W)          = ½ Σ w²                gradient w
    elastic_net(W, a, b)   = a Σ |w| + b · ½ Σ w²  (Zou & Hastie 2005)

Convention: the L2 term carries the factor ½ so that its gradient is exactly λw. With plain SGD,
adding ``λ · l2_penalty`` to the loss is the same update as ``weight_decay=λ`` in the optimizer
(w -= α(g + λw)); with Adam it is the same as Adam's coupled `weight_decay`, and NOT the same as
AdamW's decoupled decay. L1 drives weights to exactly zero (sparse models); L2 shrinks all of them.
The lectures' rule "regularization raises the initial loss" holds because these terms are >= 0.

`Penalty(l1, l2, include)` picks the parameters of a model: "weights" (the parameters that get
weight decay per `param_groups`: ndim >= 2, not in a normalization layer), "all" (every trainable
parameter) or a list of name prefixes.

Speed (called every step): on CUDA the per-tensor norms come from one multi-tensor kernel
(``torch._foreach_norm``); on the CPU a plain per-tensor sum is faster (measured fwd+bwd, 40
tensors of a 20x256x256 MLP: 2.2 ms vs 5 ms). Nothing is concatenated or copied.

Example:
    pen = Penalty(l2=1e-4)
    loss = criterion(model(x), y) + pen(model)
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor, nn

from trainwell.errors import UserError
from trainwell.optim.checks import check_float
from trainwell.optim.param_groups import check_model, check_prefixes, classify_parameters, prefix_matches


def _as_list(params: Iterable[Tensor], who: str) -> list[Tensor]:
    if isinstance(params, Tensor):
        return [params]
    out = list(params)
    for i, p in enumerate(out):
        if not isinstance(p, Tensor):
            raise UserError(f"{who}: params[{i}] must be a tensor, got {type(p).__name__}")
    return out


def _use_foreach(params: list[Tensor], foreach: bool | None) -> bool:
    if foreach is not None:
        return foreach
    first = params[0]
    return first.is_cuda and all(p.device == first.device and p.dtype == first.dtype for p in params)


def _norm_sum(params: list[Tensor], order: int, foreach: bool | None) -> Tensor:
    """Σ_p ‖p‖_1 (order 1) or Σ_p ‖p‖²_2 (order 2), kept in the graph."""
    if _use_foreach(params, foreach):
        norms = torch.stack(torch._foreach_norm(params, order))
        return norms.sum() if order == 1 else norms.square().sum()
    if order == 1:
        return sum((p.abs().sum() for p in params[1:]), params[0].abs().sum())
    return sum((p.square().sum() for p in params[1:]), params[0].square().sum())


def l1_penalty(params: Iterable[Tensor], foreach: bool | None = None) -> Tensor:
    """Σ |w| over all elements of `params` (a 0-dim tensor; 0 for no params)."""
    params = _as_list(params, "l1_penalty")
    if not params:
        return torch.zeros(())
    return _norm_sum(params, 1, foreach)


def l2_penalty(params: Iterable[Tensor], foreach: bool | None = None) -> Tensor:
    """½ Σ w² over all elements of `params` (note the ½: the gradient is w)."""
    params = _as_list(params, "l2_penalty")
    if not params:
        return torch.zeros(())
    return 0.5 * _norm_sum(params, 2, foreach)


def elastic_net(params: Iterable[Tensor], l1: float, l2: float, foreach: bool | None = None) -> Tensor:
    """l1 · Σ|w| + l2 · ½Σw² (Zou & Hastie 2005). Terms with a zero coefficient are skipped."""
    l1 = check_float(l1, "elastic_net: l1", 0.0)
    l2 = check_float(l2, "elastic_net: l2", 0.0)
    params = _as_list(params, "elastic_net")
    if not params or (l1 == 0.0 and l2 == 0.0):
        return torch.zeros((), device=params[0].device, dtype=params[0].dtype) if params else torch.zeros(())
    total = l1 * l1_penalty(params, foreach) if l1 else None
    if l2:
        term = l2 * l2_penalty(params, foreach)
        total = term if total is None else total + term
    assert total is not None
    return total


class Penalty:
    """The regularization term ``l1 · Σ|w| + l2 · ½Σw²`` of a model, to add to the loss.

    Args:
        l1, l2: coefficients (>= 0). ``active`` is False when both are 0; then calling it
            returns a zero tensor at once.
        include: "weights" (decayed parameters per `param_groups`: no biases, no norm layers),
            "all" (every trainable parameter), or a list of parameter-name prefixes
            (e.g. ["head"]; "head" matches "head.weight", not "header.weight").
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0, include: str | Sequence[str] = "weights"):
        self.l1 = check_float(l1, "Penalty: l1", 0.0)
        self.l2 = check_float(l2, "Penalty: l2", 0.0)
        if isinstance(include, str):
            if include not in ("weights", "all"):
                raise UserError(
                    f"Penalty: include must be 'weights', 'all' or a list of name prefixes, got {include!r}"
                    f" (for one prefix write [{include!r}])"
                )
            self.include: str | tuple[str, ...] = include
        else:
            self.include = tuple(include)
            if not self.include:
                raise UserError("Penalty: include is an empty list of prefixes; use 'weights' or 'all'")

    @property
    def active(self) -> bool:
        return self.l1 > 0.0 or self.l2 > 0.0

    def parameters(self, model: nn.Module) -> list[Tensor]:
        """The trainable parameters of `model` this penalty applies to."""
        params = classify_parameters(check_model(model, "Penalty"))
        if self.include == "weights":
            return [p for _, p, decayed in params if decayed]
        if self.include == "all":
            return [p for _, p, _ in params]
        check_prefixes(self.include, [n for n, _, _ in params], "Penalty: include")
        return [p for n, p, _ in params if any(prefix_matches(n, pre) for pre in self.include)]

    def __call__(self, model: nn.Module) -> Tensor:
        check_model(model, "Penalty")
        params = self.parameters(model) if self.active else []
        if not params:
            first = next(iter(model.parameters()), None)
            if first is None:
                return torch.zeros(())
            return torch.zeros((), device=first.device, dtype=first.dtype)
        return elastic_net(params, self.l1, self.l2)

    def __repr__(self) -> str:
        return f"Penalty(l1={self.l1:g}, l2={self.l2:g}, include={self.include!r})"


__all__ = ["Penalty", "elastic_net", "l1_penalty", "l2_penalty"]
