"""Which recipe keys each way of training honours, and the reason when one does not.

Every recipe key works in `trainwell train`, fine-tuning phases and members trained one by one
(they all go through `trainwell.assemble.build_run`). Members trained as ONE vectorized model
(`trainwell.vectorized.train_many`: search trials, ensemble members) share one forward and one
optimizer update, so they support only what that engine implements; for anything else the
members are trained one by one, and `members_blockers` says why. Where the engine CAN train them,
``engine="auto"`` still asks `trainwell.vectorized.choose_engine` whether it is faster here.

Vectorized members may differ in: seed, optim.lr, optim.weight_decay, optim.options.momentum and
model.dropout. They support optimizers adam, adamw, sgd and momentum with default options,
classification with plain cross-entropy, fp32, no accumulation and models without buffers.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from trainwell.config import Recipe, recipe_to_dict
from trainwell.errors import UserError

VECTOR_OPTIMIZERS = {"adam": ("adam", 0.0), "adamw": ("adamw", 0.0), "sgd": ("sgd", 0.0), "momentum": ("sgd", 0.9)}
VECTOR_KEYS = ("seed", "optim.lr", "optim.weight_decay", "optim.options.momentum", "model.dropout")


def recipe_blockers(recipe: Recipe) -> list[str]:
    """What in `recipe` the vectorized engine cannot do (empty: nothing)."""
    o, t, a = recipe.optim, recipe.train, recipe.augment
    out: list[str] = []
    if o.name not in VECTOR_OPTIMIZERS:
        out.append(f"optimizer {o.name!r} (the vectorized engine has {', '.join(VECTOR_OPTIMIZERS)})")
    extra = sorted(set(o.options) - ({"momentum"} if VECTOR_OPTIMIZERS.get(o.name, ("", 0))[0] == "sgd" else set()))
    if extra:
        out.append(f"optimizer options {extra} (the vectorized engine uses the defaults)")
    checks: list[tuple[str, Any]] = [
        ("data augmentation (augment.train)", a.train), ("batch mixing (augment.mix)", a.mix),
        (f"label smoothing (train.label_smoothing = {t.label_smoothing})", t.label_smoothing),
        ("an L1/L2 penalty (optim.l1/l2)", o.l1 or o.l2),
        ("gradient clipping (train.clip_grad_norm)", recipe.clip_grad_norm), ("EMA of the weights (train.ema)", t.ema),
        ("SWA of the weights (train.swa)", t.swa), (f"train.accumulate = {t.accumulate}", t.accumulate > 1),
        (f"train.precision = {t.precision!r}", t.precision not in ("fp32", "auto")), ("train.compile", t.compile),
        ("train.class_weights", t.class_weights), ("train.shuffle = false", not t.shuffle),
        ("train.sampler = \"balanced\"", t.sampler != "shuffle"), (f"train.metrics = {t.metrics}", t.metrics),
        ("loggers ([log])", recipe.log.active),
        (f"train.task = {t.task!r}", t.task not in (None, "classification")),
        (f"train.loss = {t.loss!r}", t.loss is not None and t.loss not in ("cross_entropy", {"name": "cross_entropy"})),
    ]
    out += [what for what, bad in checks if bad]
    return out


def model_blockers(model: nn.Module) -> list[str]:
    """What in `model` the vectorized engine cannot do (running statistics). Whether it SHOULD
    (faster on this device) is `trainwell.vectorized.choose_engine`'s question, asked by
    `train_members` and `trainwell search` with ``vectorize = auto``."""
    from trainwell.vectorized.checks import refuse_buffers

    try:
        refuse_buffers(model)
    except UserError as exc:
        return [str(exc).split(";")[0]]
    return []


def differing_keys(recipes: list[Recipe]) -> list[str]:
    """Recipe keys (dotted) whose values differ between `recipes`."""
    flat = [_flatten(recipe_to_dict(r)) for r in recipes]
    keys = sorted(set().union(*flat))
    return [k for k in keys if len({repr(f.get(k)) for f in flat}) > 1]


def members_blockers(recipes: list[Recipe], model: nn.Module | None, device: torch.device | None) -> list[str]:
    """Why these members cannot (or should not) train as one vectorized model (empty: they can)."""
    out = recipe_blockers(recipes[0])
    other = [k for k in differing_keys(recipes) if k not in VECTOR_KEYS and k != "name"]
    if other:
        out.append(f"the members differ in {other}, beyond {list(VECTOR_KEYS)} that the vectorized engine batches")
    if model is not None:
        out += model_blockers(model)
    return out


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and k not in ("schedule",):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


__all__ = ["VECTOR_KEYS", "VECTOR_OPTIMIZERS", "differing_keys", "members_blockers", "model_blockers", "recipe_blockers"]
