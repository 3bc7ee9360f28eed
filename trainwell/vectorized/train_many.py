"""`train_many`: K models that share an architecture, trained at once as ONE batched model.

Use it for hyperparameter search ("many trials at once") and for ensembles ("K seeds as one
batched model"). Trials differ only in continuous hyperparameters and seeds (lr, weight decay,
momentum, dropout rate, init scale, seed; see `hparams.py`). The result equals training each
trial alone with `reference_train_one` (same seeds, batches, dropout masks, optimizer math), up
to float rounding — that is what the tests check.

Mechanism. Parameters are stacked in one flat buffer (`flat.FlatStack`: every named parameter a
contiguous K×... block, trial k in row k). One step gathers a K×B batch with one ``index_select`` (each
trial its own permutation), runs the K models as one, and gets each trial's gradient of its own
mean loss (trial k's parameters only reach loss k, so the gradient of Σ_k loss_k is per trial);
`StackedOptimizer` then applies Adam/SGD/AdamW with per-trial hyperparameters as K×1 columns
(torch's fused Adam kernel over the whole buffer where it runs). Three engines compute the loss and gradients:

* ``"mlp"`` (`mlp_engine.py`): a Sequential of Linear / elementwise activations / Dropout /
  Flatten, with a hand-written backward pass (bmm kernels, no autograd graph);
* ``"batched"`` (`batched_layers.py`): the same plus Conv1d/Conv2d (grouped convolution with
  ``groups = K``) and pooling, forward by hand, backward by autograd;
* ``"vmap"`` (`vmap_engine.py`): ``torch.func.vmap`` over ``functional_call`` of any module
  built from parameters only, backward by autograd.

``engine="auto"`` takes the first that applies, in that order (fastest first). Measured side by
side (32 MLPs 40→100→100→10, batch 100, forward + backward + loss of one step, 1 thread, CPU
time, median of 9 interleaved repeats on a loaded 2-core machine): mlp 3.8 ms, batched 6.2 ms,
vmap 7.3 ms — vmap's per-op batching rules add overhead that hand-written bmm / grouped
convolution do not have, and the hand-written backward drops autograd's graph and gradient
copies. Trials run in lockstep groups (`group.py`: 8 per group for ConvNets on a CPU, else all). On a
CPU the loop runs with subnormal floats flushed to zero (`denormal.py`; the mode is restored after).
Whether vectorizing beats training one by one at all is `choose.choose_engine`'s question.

BatchNorm is refused with a UserError naming the module (running statistics are per-trial
state outside the gradient; see `checks.refuse_buffers`). A trial that diverges (NaN) does not
affect the others: its loss only reaches its own parameters.
"""
from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from trainwell.errors import UserError
from trainwell.optim.param_groups import classify_parameters
from trainwell.vectorized.batched_layers import BatchedSequential, compile_sequential
from trainwell.vectorized.checks import Schedule, check_data, check_steps, lr_factor, refuse_buffers
from trainwell.vectorized.denormal import flushing_denormals
from trainwell.vectorized.flat import FlatStack
from trainwell.vectorized.group import Group, default_group_size
from trainwell.vectorized.hparams import parse_trials
from trainwell.vectorized.loss import per_trial_cross_entropy
from trainwell.vectorized.mlp_engine import compile_mlp
from trainwell.vectorized.result import ManyResult
from trainwell.vectorized.streams import build_model
from trainwell.vectorized.vmap_engine import VmapModel

ENGINES = ("auto", "mlp", "batched", "vmap")
Progress = Callable[[int, int, dict[str, Any]], None]
Forward = Callable[[dict[str, torch.Tensor], torch.Tensor, Callable | None], torch.Tensor]
# (stack, x K×B×..., y K×B, draw_mask) -> per-trial losses K; leaves the gradients in stack.grad
LossAndGrad = Callable[[FlatStack, torch.Tensor, torch.Tensor, Callable | None], torch.Tensor]


@dataclass
class Engine:
    """How K stacked models run: `forward` (evaluation, no dropout when draw_mask is None) and
    `loss_and_grad` (one training step's losses and gradients); `sites` names the dropout modules
    in forward order; `autograd` says whether the parameters must require grad; `scratch_forward`
    is `forward` for results read at once (it may reuse its output buffers; default `forward`)."""

    name: str
    forward: Forward
    loss_and_grad: LossAndGrad
    sites: list[str]
    autograd: bool
    scratch_forward: Forward | None = None


def _same_architecture(models: list[nn.Module]) -> None:
    ref = [(n, tuple(p.shape)) for n, p in models[0].named_parameters()]
    for i, m in enumerate(models[1:], start=1):
        got = [(n, tuple(p.shape)) for n, p in m.named_parameters()]
        if got != ref:
            raise UserError(
                f"make_model must build the same architecture for every trial; trial {i} has parameters {got[:3]}... "
                f"but trial 0 has {ref[:3]}..."
            )


def _autograd_step(forward: Forward) -> LossAndGrad:
    """Loss and gradients through autograd. The first step checks that every parameter gets a
    gradient (an unused one would still move under weight decay, unlike in `reference_train_one`,
    where its gradient is None); from then on each ``.grad`` is its block of ``stack.grad``, which
    the backward pass accumulates into in place."""
    calls = 0

    def step(stack: FlatStack, x: torch.Tensor, y: torch.Tensor, draw_mask: Callable | None) -> torch.Tensor:
        nonlocal calls
        if calls > 0:
            stack.zero_grad()
        loss = per_trial_cross_entropy(forward(stack.params, x, draw_mask), y)
        with warnings.catch_warnings():
            # autograd may warn (once) that a gradient's layout differs from the one it would pick
            warnings.filterwarnings("ignore", message="grad and param do not obey the gradient layout contract")
            loss.sum().backward()
        if calls == 0:
            unused = [name for name, p in stack.params.items() if p.grad is None]
            if unused:
                raise UserError(f"train_many: parameters {unused} get no gradient (not used in the forward pass); "
                                "every parameter of the model must be used")
            for name, p in stack.params.items():
                stack.grads[name].copy_(p.grad)
            stack.attach_grads()
        elif calls == 1:  # autograd must have accumulated into our blocks, not replaced them
            for name, p in stack.params.items():
                if p.grad is None or p.grad.data_ptr() != stack.grads[name].data_ptr():
                    raise RuntimeError(f"train_many: the gradient of {name!r} left the flat buffer")
        calls += 1
        return loss.detach()

    return step


def make_engine(template: nn.Module, k: int, engine: str, probe_x: torch.Tensor) -> Engine:
    """The `Engine` for K copies of `template` ("auto": mlp, else batched, else vmap)."""
    if engine not in ENGINES:
        raise UserError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
    ops = compile_sequential(template) if engine in ("auto", "mlp", "batched") else None
    sites = [op.name for op in ops if op.kind == "dropout"] if ops is not None else []
    manual = compile_mlp(ops, k) if engine in ("auto", "mlp") else None
    if manual is not None:
        def mlp_step(stack, x, y, draw_mask):
            return manual.loss_and_grad(stack.params, stack.grads, x, y, draw_mask)

        return Engine("mlp", BatchedSequential(ops, k).forward, mlp_step, sites, autograd=False,
                      scratch_forward=lambda params, x, draw_mask: manual.evaluate(params, x))
    if engine == "mlp":
        raise UserError(
            "engine='mlp' needs an nn.Sequential of Linear, parameter-free activations, Flatten and Dropout; "
            f"got {type(template).__name__} with other parts — use engine='auto', 'batched' or 'vmap'"
        )
    if ops is not None:
        forward = BatchedSequential(ops, k).forward
        return Engine("batched", forward, _autograd_step(forward), sites, autograd=True)
    if engine == "batched":
        raise UserError(
            "engine='batched' needs an nn.Sequential of Linear, Conv1d/Conv2d, parameter-free activations, pooling, "
            f"Flatten and Dropout; got {type(template).__name__} — use engine='auto' or 'vmap'"
        )
    vm = VmapModel(template, k, probe_x)
    return Engine("vmap", vm.forward, _autograd_step(vm.forward), [name for name, _ in vm.sites], autograd=True)


def train_many(
    make_model: Callable[[torch.Generator], nn.Module],
    hparams: list[dict[str, Any]],
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    *,
    steps: int,
    batch_size: int,
    optimizer: str = "adam",
    schedule: Schedule | None = None,
    x_val: torch.Tensor | None = None,
    y_val: torch.Tensor | None = None,
    eval_every: int | None = None,
    device: torch.device | str | None = None,
    progress: Progress | None = None,
    engine: str = "auto",
    loss_every: int = 1,
    group_size: int | None = None,
) -> ManyResult:
    """Train K = len(hparams) models of the architecture `make_model` builds, as one batched model.

    Args:
        make_model: builds ONE model, initialized from the generator it is given.
        hparams: one dict per trial (keys: seed, lr, weight_decay, momentum, dropout, init_scale).
        x_train, y_train: N×... float inputs and N int64 labels (moved to `device` once).
        steps, batch_size: optimizer steps per trial and examples per step (drop_last).
        optimizer: "adam", "sgd" (with per-trial momentum) or "adamw".
        schedule: lr factor, a pure function of (step, steps); step counts from 0.
        x_val, y_val, eval_every: validation accuracy every `eval_every` steps and at the end.
        device: where to train (default: x_train's device).
        progress: called as ``progress(step, steps, {"val_acc": [...]})`` at each evaluation.
        engine: "auto", "mlp", "batched" or "vmap" (see the module docstring).
        loss_every: record the training loss every this many steps (kept on the device).
        group_size: at most this many trials per batched step (None: `group.default_group_size`:
            8 for a model with convolutions on a CPU, else all K); the groups step in lockstep and
            the result does not depend on the grouping.

    Returns: a `ManyResult` (stacked params, curves, `predict_proba`, `models()`).

    Example:
        >>> make = lambda g: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        >>> x, y = torch.randn(64, 4, generator=torch.Generator().manual_seed(0)), torch.arange(64) % 3
        >>> r = train_many(make, [{"seed": 0, "lr": 1e-2}, {"seed": 1, "lr": 1e-3}], x, y, steps=5, batch_size=16)
        >>> r.train_loss.shape, r.predict_proba(x).shape, r.engine
        (torch.Size([2, 5]), torch.Size([2, 64, 3]), 'mlp')
    """
    trials = parse_trials(hparams, optimizer)
    check_data(x_train, y_train, "train")
    check_steps(steps, eval_every)
    if not isinstance(loss_every, int) or isinstance(loss_every, bool) or loss_every < 1:
        raise UserError(f"loss_every must be a positive int, got {loss_every!r}")
    has_val = x_val is not None or y_val is not None
    if has_val:
        check_data(x_val, y_val, "val")
    device = torch.device(device) if device is not None else x_train.device
    k = len(trials)

    if group_size is not None and (not isinstance(group_size, int) or isinstance(group_size, bool) or group_size < 1):
        raise UserError(f"group_size must be a positive int or None, got {group_size!r}")

    models = [build_model(make_model, t.seed, t.init_scale) for t in trials]
    _same_architecture(models)
    refuse_buffers(models[0])
    template = copy.deepcopy(models[0]).to(device)
    size = group_size if group_size is not None else default_group_size(k, device, template)
    x, y = x_train.to(device), y_train.to(device)
    decayed = {name for name, _, d in classify_parameters(template) if d}  # the Trainer's rule: no decay on biases
    groups = []
    for start in range(0, k, size):
        part = slice(start, min(start + size, k))
        eng = make_engine(template, len(trials[part]), engine, x[:batch_size])
        groups.append(Group(trials[part], models[part], template, eng, optimizer, decayed, x.shape[0], batch_size,
                            device, x.dtype))
    del models

    loss_steps = list(range(0, steps, loss_every))
    losses = torch.empty(k, len(loss_steps), device=device, dtype=groups[0].stack.data.dtype)
    val_steps: list[int] = []
    val_curve: list[torch.Tensor] = []
    x_val_d = x_val.to(device) if has_val else None
    y_val_d = y_val.to(device) if has_val else None

    with flushing_denormals(device.type == "cpu"):  # subnormal floats are slow on x86 (`denormal.py`)
        for step in range(steps):
            factor = lr_factor(schedule, step, steps)
            loss_k = [g.step(x, y, factor) for g in groups]
            if step % loss_every == 0:
                losses[:, step // loss_every] = loss_k[0] if len(loss_k) == 1 else torch.cat(loss_k)
            done = step + 1
            if has_val and ((eval_every is not None and done % eval_every == 0) or done == steps):
                val_steps.append(done)
                val_curve.append(torch.cat([g.evaluate(x_val_d, y_val_d) for g in groups]))
                if progress is not None:
                    progress(done, steps, {"val_acc": val_curve[-1].tolist()})
            elif progress is not None and done == steps:
                progress(done, steps, {})

    val_acc = torch.stack(val_curve, dim=1) if val_curve else None
    per_group = [g.params() for g in groups]
    whole = groups[0].engine if len(groups) == 1 else make_engine(template, k, groups[0].engine.name, x[:batch_size])
    return ManyResult(
        trials=trials,
        params={name: torch.cat([p[name] for p in per_group]) for name in per_group[0]},
        loss_steps=loss_steps,
        train_loss=losses,
        val_steps=val_steps,
        val_acc=val_acc,
        final_val_acc=val_acc[:, -1] if val_acc is not None else None,
        engine=whole.name,
        template=template,
        forward=whole.forward,
    )
