"""One forward and backward pass on a copy of the model, seen from its weight layers.

The statistics recorder (`trainwell.diagnostics.capture`) sees the outputs of leaf modules. A
network written with functions (`F.relu(self.fc1(x))`) has no activation module, so nothing
there says that 80 % of its ReLUs are dead. Every nonlinearity, however it is called, ends in the
input of the next weight layer — so this probe registers a forward PRE-hook on every weight layer
(a leaf with a weight of ≥ 2 dimensions: Linear, Conv, DropConnect, ...) and reads what it receives:

    std, mean, min, max          of the input x (over all elements)
    zero_frac, neg_frac          fraction of elements == 0 / < 0
    dead_frac                    fraction of input units u (dim 1) with x[:, u, …] == 0 for every example
                                 and position (a ReLU that never fires on the batch passes no gradient)
    kind                         what produced x, from its range: "relu" (≥ 0 with ≥ 5 % exact zeros),
                                 "tanh" (within [−1, 1], some < 0), "sigmoid" (within [0, 1], few zeros), else None
    saturated_frac               tanh-like: |x| > 0.99; sigmoid-like: x < 0.01 or x > 0.99

and, after one backward of the loss, the std of the gradient at each weight layer's output, the
parameters that got no gradient, and whether a layer's rows (units) and their gradients are
identical (symmetry). The model's output is classified as "probabilities" (in [0, 1], rows sum to
1), "log_probabilities" (≤ 0, rows log-sum-exp to 0), "sigmoid" (in (0, 1), rows do not sum to 1),
"nonnegative" (≥ 0 with exact zeros: a ReLU on the logits) or "logits".

The copy runs with stochastic regularization off and BatchNorm on batch statistics (as in the
first training step); the caller's model, its gradients and the global RNG are untouched.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from trainwell.nn.kinds import is_batchnorm, is_norm


def weight_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) of every weight layer: a module owning a weight of ≥ 2 dims (not a norm,
    not an embedding), whose children own no weight of their own (DropConnectConv's conv counts)."""
    out = []
    for name, m in model.named_modules():
        w = getattr(m, "weight", None)
        if isinstance(w, torch.Tensor) and w.dim() >= 2 and not is_norm(m) \
                and not isinstance(m, (nn.Embedding, nn.EmbeddingBag)):
            out.append((name or type(m).__name__, m))
    return out


def regularization_off(model: nn.Module) -> nn.Module:
    """A copy of `model` with every stochastic regularizer off but BatchNorm as in training.

    The copy is put in eval mode — dropout, DropConnect, DropBlock, drop-path return their input —
    and only its BatchNorm layers are switched back to training mode, so they normalize with the
    batch's statistics exactly as the first training step will. The caller's model is untouched.
    """
    net = copy.deepcopy(model)
    net.eval()
    for module in net.modules():
        if is_batchnorm(module):
            module.train()
    return net


def dropout_off(model: nn.Module) -> tuple[nn.Module, list[str]]:
    """A copy of `model` (training mode) whose dropout-family modules drop nothing (p = 0, rate = 0);
    also the names of the modules changed, with their rates."""
    net = copy.deepcopy(model)
    changed = []
    for name, m in net.named_modules():
        if "drop" not in type(m).__name__.lower():
            continue
        for attr in ("p", "rate", "drop_prob"):
            value = getattr(m, attr, None)
            if isinstance(value, float) and value > 0:
                setattr(m, attr, 0.0)
                changed.append(f"{name} ({type(m).__name__} {attr}={value:g})")
    return net, changed


def dropout_rates(model: nn.Module) -> dict[str, float]:
    """name → drop rate of every dropout-family module with a rate > 0."""
    out = {}
    for name, m in model.named_modules():
        if "drop" in type(m).__name__.lower():
            for attr in ("p", "rate", "drop_prob"):
                value = getattr(m, attr, None)
                if isinstance(value, float) and value > 0:
                    out[name] = value
    return out


@dataclass
class LayerView:
    """One weight layer as the probe saw it (see the module docstring)."""

    name: str
    type: str
    index: int                     # forward order among the weight layers
    units: int                     # output units (dim 0 of the weight)
    in_std: float = math.nan
    in_mean: float = math.nan
    in_min: float = math.nan
    in_max: float = math.nan
    zero_frac: float = math.nan
    neg_frac: float = math.nan
    dead_frac: float = math.nan
    saturated_frac: float | None = None
    kind: str | None = None
    out_std: float = math.nan
    grad_std: float | None = None
    rows_identical: bool = False
    grad_rows_identical: bool = False

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ProbeResult:
    layers: list[LayerView]
    input_std: float
    output_kind: str
    output: dict[str, float]
    loss: float
    no_grad: list[str] = field(default_factory=list)      # trainable parameters of used layers without a gradient
    unused: list[str] = field(default_factory=list)       # weight layers the forward pass never called
    out: torch.Tensor | None = None                       # the model's output on the batch (detached)

    def to_json(self) -> dict[str, Any]:
        return {"layers": [l.to_json() for l in self.layers], "input_std": self.input_std,
                "output_kind": self.output_kind, "output": self.output, "loss": self.loss, "no_grad": self.no_grad,
                "unused": self.unused}


def classify_input(x: torch.Tensor) -> tuple[str | None, dict[str, float]]:
    """What produced x, from its range (see the module docstring), and its numbers (one transfer)."""
    f = x.detach().float()
    flat = f.reshape(-1)
    n = max(flat.numel(), 1)
    if f.dim() >= 2:
        per_unit = f.transpose(0, 1).reshape(f.shape[1], -1)
        dead = ((per_unit == 0).all(1)).float().mean()
    else:
        dead = (flat == 0).all().float()
    nums = torch.stack([flat.mean(), flat.std(unbiased=False) if n > 1 else flat.new_zeros(()), flat.min(), flat.max(),
                        (flat == 0).float().mean(), (flat < 0).float().mean(), dead,
                        (flat.abs() > 0.99).float().mean(), ((flat < 0.01) | (flat > 0.99)).float().mean()]).tolist()
    mean, std, lo, hi, zero, neg, dead_frac, tanh_sat, sig_sat = nums
    kind = None
    if lo >= 0 and zero >= 0.05:
        kind = "relu"
    elif lo >= -1.0 and hi <= 1.0 and lo < 0 and std > 0:
        kind = "tanh"
    elif lo >= 0 and hi <= 1.0 and zero < 0.05 and std > 0:
        kind = "sigmoid"
    sat = tanh_sat if kind == "tanh" else (sig_sat if kind == "sigmoid" else None)
    return kind, {"mean": mean, "std": std, "min": lo, "max": hi, "zero_frac": zero, "neg_frac": neg,
                  "dead_frac": dead_frac, "saturated_frac": sat}


def output_kind(out: torch.Tensor, rtol: float = 1e-3, zero_frac: float = 0.05) -> tuple[str, dict[str, float]]:
    """"probabilities" | "log_probabilities" | "sigmoid" | "nonnegative" | "logits" (module docstring)."""
    o = out.detach().float()
    if o.dim() != 2 or o.shape[1] < 2:
        return "logits", {}
    lo, hi = float(o.min()), float(o.max())
    row_sum_err = float((o.sum(1) - 1).abs().max())
    lse_err = float(torch.logsumexp(o, 1).abs().max())
    zeros = float((o == 0).float().mean())
    nums = {"min": lo, "max": hi, "row_sum_err": row_sum_err, "logsumexp_err": lse_err, "zero_frac": zeros,
            "std": float(o.std())}
    if lo >= 0 and hi <= 1 + rtol and row_sum_err <= rtol:
        return "probabilities", nums
    if hi <= rtol and lse_err <= rtol * 10:
        return "log_probabilities", nums
    if lo > 0 and hi < 1:
        return "sigmoid", nums
    if lo >= 0 and zeros >= zero_frac:
        return "nonnegative", nums
    return "logits", nums


def _identical_rows(w: torch.Tensor | None, rtol: float) -> bool:
    if w is None or w.dim() < 2 or w.shape[0] < 2:
        return False
    rows = w.detach().reshape(w.shape[0], -1).float()
    scale = 1.0 + float(rows.abs().max())
    return float((rows - rows[:1]).abs().max()) <= rtol * scale


def probe(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None,
          loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None, *, symmetric_rtol: float = 1e-6,
          prob_rtol: float = 1e-3, zero_frac: float = 0.05, seed: int = 0) -> ProbeResult:
    """Forward (and backward, when `loss_fn` and `y` are given) one batch through a copy of `model`."""
    net = regularization_off(model)
    layers = weight_layers(net)
    views: dict[str, LayerView] = {}
    order: list[str] = []
    outputs: dict[str, torch.Tensor] = {}
    handles = []

    def pre_hook(name: str, module: nn.Module):
        def hook(_m, args):
            if name in views or not args or not isinstance(args[0], torch.Tensor):
                return None
            kind, nums = classify_input(args[0])
            w = module.weight
            views[name] = LayerView(name, type(module).__name__, len(order), int(w.shape[0]), nums["std"], nums["mean"],
                                    nums["min"], nums["max"], nums["zero_frac"], nums["neg_frac"], nums["dead_frac"],
                                    nums["saturated_frac"], kind)
            order.append(name)
            return None
        return hook

    def fwd_hook(name: str):
        def hook(_m, _args, out):
            if isinstance(out, torch.Tensor) and name not in outputs:
                outputs[name] = out
                if out.requires_grad:
                    out.retain_grad()
            return None
        return hook

    for name, m in layers:
        handles.append(m.register_forward_pre_hook(pre_hook(name, m)))
        handles.append(m.register_forward_hook(fwd_hook(name)))
    devices = [x.device.index or 0] if x.device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            out = net(x)
            loss = math.nan
            if loss_fn is not None and y is not None and isinstance(out, torch.Tensor):
                value = loss_fn(out, y)
                loss = float(value.detach())
                if value.requires_grad and math.isfinite(loss):
                    value.backward()
    finally:
        for h in handles:
            h.remove()
    for name, t in outputs.items():
        v = views.get(name)
        if v is None:
            continue
        v.out_std = float(t.detach().float().std()) if t.numel() > 1 else math.nan
        if t.grad is not None:
            v.grad_std = float(t.grad.float().std()) if t.grad.numel() > 1 else 0.0
    modules = dict(layers)
    for name in order:
        m, v = modules[name], views[name]
        v.rows_identical = _identical_rows(m.weight, symmetric_rtol)
        v.grad_rows_identical = v.rows_identical and _identical_rows(m.weight.grad, symmetric_rtol) \
            if m.weight.grad is not None else v.rows_identical
    used = set(order)
    no_grad = []
    if loss_fn is not None and y is not None:
        for name in order:
            for pname, p in modules[name].named_parameters(recurse=False):
                if p.requires_grad and p.grad is None:
                    no_grad.append(f"{name}.{pname}")
    kind, nums = output_kind(out, prob_rtol, zero_frac) if isinstance(out, torch.Tensor) else ("logits", {})
    return ProbeResult([views[n] for n in order], float(x.float().std()), kind, nums, loss, no_grad,
                       [n for n, _ in layers if n not in used], out.detach() if isinstance(out, torch.Tensor) else None)


__all__ = ["LayerView", "ProbeResult", "classify_input", "dropout_off", "dropout_rates", "output_kind", "probe",
           "regularization_off", "weight_layers"]
