"""Checks of the model, its output layer and its loss, before any training (one batch, a copy).

    symmetric_init       a hidden weight layer whose units (rows) are identical AND get identical
                         gradients: nothing can ever make them differ (constant or zero init) → fail
    frozen_parameters    parameters with requires_grad=False, parameters the user's optimizer does not
                         hold (fail), or parameters of layers the forward pass uses that receive no
                         gradient (the graph is cut: .detach(), .data, torch.no_grad) → warn
    no_nonlinearity      the whole network is an affine map: f(a+b) − f(a) − f(b) + f(0) = 0 within
                         linear_rtol (float64, eval mode) while it has ≥ 2 weight layers → warn (its
                         layers collapse into one matrix: a linear classifier)
    capacity_bottleneck  a hidden Linear layer with fewer units than classes − 1: everything passes
                         through too few numbers to tell the classes apart → warn (info when the short
                         run fits the training data anyway; decided in `diagnose`)
    output_probabilities the model returns probabilities (softmax: rows in [0, 1] summing to 1, or a
                         sigmoid) and the loss is cross-entropy, which applies log-softmax itself → fail
    output_nonnegative   outputs ≥ 0 with > 5 % exact zeros (a ReLU on the logits) → warn: logits of the
                         wrong classes cannot go below 0 and zeroed logits pass no gradient
    loss_mismatch        the loss equals NLLLoss(output, y) = −mean output[y] on outputs that are not
                         log-probabilities (NLLLoss on logits: unbounded below) → fail
    batchnorm_small_batch  BatchNorm with batches of ≤ bn_tiny_batch (4) examples → warn (between 4 and
                         bn_min_batch (16) only when train and eval mode disagree after the short run)

The loss is identified by value: it is evaluated on the model's output and compared with
F.cross_entropy and F.nll_loss on the same output.
"""
from __future__ import annotations

import copy
import math
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from trainwell.doctor.config import DoctorConfig
from trainwell.doctor.finding import Finding, Prescription, passed
from trainwell.doctor.prescribe import init_fix
from trainwell.doctor.probe import ProbeResult
from trainwell.nn.kinds import batchnorms


def check_symmetric(pr: ProbeResult, subject: Any) -> Finding:
    hidden = pr.layers[:-1]
    same = [l.name for l in hidden if l.rows_identical and l.grad_rows_identical]
    evidence = {"layers": same, "checked": [l.name for l in hidden]}
    if not same:
        return passed("symmetric_init", f"units differ in every hidden weight layer ({len(hidden)} checked)", evidence)
    return Finding("symmetric_init", "fail",
                   f"{len(same)} hidden layer(s) ({', '.join(same[:4])}) start with identical units — every row of "
                   "the weight is the same and so is its gradient: the units compute the same thing forever, the "
                   "layer acts as ONE unit (a constant/zero init breaks no symmetry)", evidence, same[0],
                   init_fix(subject), stage="model")


def check_frozen(model: nn.Module, optimizer: torch.optim.Optimizer | None, pr: ProbeResult | None) -> Finding:
    params = dict(model.named_parameters())
    frozen = [n for n, p in params.items() if not p.requires_grad]
    missing: list[str] = []
    if optimizer is not None:
        held = {id(p) for g in optimizer.param_groups for p in g["params"]}
        missing = [n for n, p in params.items() if p.requires_grad and id(p) not in held]
    cut = list(pr.no_grad) if pr is not None else []
    total = sum(p.numel() for p in params.values())
    share = lambda names: sum(params[n].numel() for n in names if n in params) / max(total, 1)  # noqa: E731
    evidence = {"requires_grad_false": frozen, "not_in_optimizer": missing, "no_gradient": cut,
                "unused_layers": list(pr.unused) if pr is not None else [], "parameters": len(params)}
    if missing:
        return Finding("frozen_parameters", "fail",
                       f"the optimizer holds only some of the trainable parameters: {len(missing)} tensor(s) "
                       f"({share(missing):.0%} of the weights, e.g. {', '.join(missing[:3])}) are never updated",
                       evidence, missing[0],
                       Prescription("give the optimizer every parameter",
                                    code="optimizer = torch.optim.X(model.parameters(), ...)"), stage="model")
    if frozen:
        return Finding("frozen_parameters", "warn",
                       f"{len(frozen)} parameter tensor(s) ({share(frozen):.0%} of the weights, e.g. "
                       f"{', '.join(frozen[:3])}) have requires_grad=False: they never train (if you meant to "
                       "fine-tune only the head, ignore this)", evidence, frozen[0],
                       Prescription("unfreeze them", code="for p in model.parameters(): p.requires_grad_(True)"),
                       stage="model")
    if cut:
        return Finding("frozen_parameters", "warn",
                       f"{len(cut)} parameter tensor(s) of layers the forward pass uses get no gradient (e.g. "
                       f"{', '.join(cut[:3])}): the graph is cut between them and the loss (.detach(), .data, "
                       "torch.no_grad or a non-differentiable op such as argmax)", evidence, cut[0],
                       Prescription("keep the forward pass differentiable from those layers to the loss",
                                    code="remove the .detach() / .data / torch.no_grad() in forward"), stage="model")
    return passed("frozen_parameters", f"all {len(params)} parameter tensors train and get gradients", evidence)


@torch.no_grad()
def affine_residual(model: nn.Module, x: torch.Tensor) -> float:
    """‖f(a+b) − f(a) − f(b) + f(0)‖ / (‖f(a) − f(0)‖ + ‖f(b) − f(0)‖) in float64, eval mode, a copy."""
    net = copy.deepcopy(model).double().eval()
    n = len(x) // 2
    if n < 1:
        return math.nan
    a, b = x[:n].double(), x[n:2 * n].double()
    fa, fb, fab, f0 = net(a), net(b), net(a + b), net(torch.zeros_like(a))
    if not all(isinstance(t, torch.Tensor) for t in (fa, fb, fab, f0)):
        return math.nan
    scale = float((fa - f0).norm() + (fb - f0).norm())
    return float((fab - fa - fb + f0).norm()) / scale if scale > 0 else math.nan


def check_linear(model: nn.Module, x: torch.Tensor, n_weight_layers: int, cfg: DoctorConfig) -> Finding:
    try:
        res = affine_residual(model, x[:64])
    except Exception:  # noqa: BLE001 — a model that does not run in float64: the check does not apply
        return passed("no_nonlinearity", "linearity not checked (the model does not run in float64)")
    evidence = {"residual": res, "rtol": cfg.linear_rtol, "weight_layers": n_weight_layers}
    if n_weight_layers >= 2 and res == res and res <= cfg.linear_rtol:
        return Finding("no_nonlinearity", "warn",
                       f"the network is an affine function of its input (f(a+b) − f(a) − f(b) + f(0) = {res:.1e}·scale): "
                       f"its {n_weight_layers} weight layers have no nonlinearity between them and collapse into one "
                       "matrix — a linear classifier, whatever its depth", evidence, None,
                       Prescription("put an activation between the layers",
                                    code="nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, c))"), stage="model")
    return passed("no_nonlinearity", f"the network is nonlinear (affine residual {res:.2g})", evidence)


def check_bottleneck(pr: ProbeResult, num_classes: int | None, subject: Any) -> Finding:
    from trainwell.doctor.prescribe import widen

    if not num_classes or num_classes < 3:
        return passed("capacity_bottleneck", "no bottleneck check (fewer than 3 classes)")
    narrow = [(l.name, l.units) for l in pr.layers[:-1] if "Linear" in l.type and l.units < num_classes - 1]
    evidence = {"narrow": dict(narrow), "classes": num_classes}
    if not narrow:
        return passed("capacity_bottleneck", f"no hidden Linear layer narrower than {num_classes - 1} units", evidence)
    name, units = min(narrow, key=lambda t: t[1])
    return Finding("capacity_bottleneck", "warn",
                   f"hidden layer {name} has {units} units for {num_classes} classes: everything the network knows "
                   f"about an input passes through {units} numbers, too few to separate {num_classes} classes",
                   evidence, name, widen(subject, narrow_below=num_classes), stage="model")


def identify_loss(loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], out: torch.Tensor,
                  y: torch.Tensor) -> dict[str, float]:
    """The user's loss on `out` next to cross-entropy and NLL on the same output."""
    with torch.no_grad():
        value = float(loss(out, y))
        ce = float(F.cross_entropy(out, y))
        nll = float(F.nll_loss(out, y))
    return {"loss": value, "cross_entropy": ce, "nll": nll}


def _close(a: float, b: float, rtol: float = 1e-4) -> bool:
    return abs(a - b) <= rtol * (1 + abs(b))


def check_output(pr: ProbeResult, loss_fn: Any, out: torch.Tensor | None, y: torch.Tensor, cfg: DoctorConfig,
                 subject: Any) -> list[Finding]:
    """output_probabilities, output_nonnegative and loss_mismatch (see the module docstring)."""
    kind, nums = pr.output_kind, dict(pr.output)
    if out is None or out.dim() != 2 or y.dim() != 1 or torch.is_floating_point(y):
        return [passed("output_layer", "output layer not checked (not class logits)")]
    try:
        ident = identify_loss(loss_fn, out, y)
    except Exception:  # noqa: BLE001 — a loss that takes other targets: nothing to compare
        ident = {}
    evidence = {"output_kind": kind, **nums, **ident}
    is_ce = bool(ident) and _close(ident["loss"], ident["cross_entropy"])
    is_nll = bool(ident) and _close(ident["loss"], ident["nll"])
    last = pr.layers[-1].name if pr.layers else None
    if is_nll and not is_ce and kind != "log_probabilities":
        what = "probabilities" if kind == "probabilities" else "raw outputs (logits)"
        return [Finding("loss_mismatch", "fail",
                        f"the loss is NLLLoss (it equals −mean output[y] = {ident['nll']:.4g}) but the model returns "
                        f"{what}, not log-probabilities: NLLLoss just picks the target's output, so the loss is "
                        "unbounded below and training pushes that one number up instead of learning", evidence, last,
                        Prescription("give the loss log-probabilities",
                                     code="nn.CrossEntropyLoss() on the logits (or F.log_softmax(logits, 1) before "
                                          "nn.NLLLoss())"), stage="model")]
    if kind in ("probabilities", "sigmoid") and (is_ce or subject.loss is None):
        act = "a softmax" if kind == "probabilities" else "a sigmoid"
        return [Finding("output_probabilities", "fail",
                        f"the model ends with {act} (outputs in [{nums['min']:.2g}, {nums['max']:.2g}]"
                        + (", rows summing to 1" if kind == "probabilities" else "")
                        + ") and the loss is cross-entropy, which applies log-softmax itself: the loss sees "
                        "probabilities as logits, so its gradient is squashed (≤ 1/C per class) and it can never "
                        "become confident", evidence, last,
                        Prescription("return the logits: remove the final softmax/sigmoid from forward (apply it "
                                     "only when you need probabilities, after the loss)",
                                     code="return self.fc_out(h)  # not torch.softmax(self.fc_out(h), dim=1)"),
                        stage="model")]
    if kind == "nonnegative" and (is_ce or subject.loss is None):
        return [Finding("output_nonnegative", "warn",
                        f"the outputs (logits) are all ≥ 0 with {nums['zero_frac']:.0%} exact zeros: a ReLU (or "
                        "similar) sits after the last layer — wrong classes cannot get negative logits and a zeroed "
                        "logit passes no gradient", evidence, last,
                        Prescription("remove the activation after the last Linear layer",
                                     code="return self.fc_out(h)  # not F.relu(self.fc_out(h))"), stage="model")]
    return [passed("output_layer", f"the model returns {kind.replace('_', ' ')} and the loss fits them", evidence)]


def check_batchnorm_batch(model: nn.Module, batch_size: int | None, cfg: DoctorConfig,
                          mode_gap: float | None = None) -> Finding:
    bns = [n for n, _ in batchnorms(model)]
    evidence = {"batch_size": batch_size, "batchnorm_layers": len(bns), "min_batch": cfg.bn_min_batch,
                "tiny_batch": cfg.bn_tiny_batch, "mode_gap": mode_gap, "mode_gap_threshold": cfg.bn_mode_gap}
    if not bns or batch_size is None or batch_size >= cfg.bn_min_batch:
        return passed("batchnorm_small_batch", "no BatchNorm with small batches", evidence)
    tiny = batch_size <= cfg.bn_tiny_batch
    gap = mode_gap is not None and mode_gap == mode_gap and mode_gap > cfg.bn_mode_gap
    if not (tiny or gap):
        return passed("batchnorm_small_batch", f"BatchNorm with batches of {batch_size}: train and eval mode agree",
                      evidence)
    extra = f"; after the short run, accuracy in train mode and eval mode differs by {mode_gap:.0%}" if gap else ""
    return Finding("batchnorm_small_batch", "warn",
                   f"{len(bns)} BatchNorm layer(s) (e.g. {bns[0]}) normalize over batches of only {batch_size} "
                   f"examples: the batch mean and variance are noise, and the running statistics used at evaluation "
                   f"do not match what training saw{extra}", evidence, bns[0],
                   Prescription("use batches of at least 32 (or GroupNorm/LayerNorm, which do not depend on the batch)",
                                edits={"train.batch_size": 32},
                                code="DataLoader(train_set, batch_size=32, shuffle=True)  # or nn.GroupNorm",
                                direction={"train.batch_size": "up"}), stage="model")


__all__ = ["affine_residual", "check_batchnorm_batch", "check_bottleneck", "check_frozen", "check_linear",
           "check_output", "check_symmetric", "identify_loss"]
