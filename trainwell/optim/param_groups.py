"""Parameter groups: no weight decay on biases and normalization parameters; per-layer LR scales.

Weight decay (L2) pulls weights towards zero to keep the model simple. Biases and the scale/shift
of normalization layers do not make the function more complex when they grow — decaying them only
fights the normalization (a BatchNorm's gain γ shrinks, the next layer compensates) — so, following
common practice since Goyal et al. (2017, "Accurate, Large Minibatch SGD"), they get no decay.

The rule used here (and by `trainwell.optim.penalties.Penalty(include="weights")`):

    decayed(p)  <=>  p.ndim >= 2  and  p does not belong to a normalization module

Normalization modules are torch's BatchNorm/SyncBatchNorm/InstanceNorm/LayerNorm/GroupNorm/RMSNorm
(and their lazy variants) plus any module whose class sets ``is_normalization = True``
(the convention for trainwell's own norm layers). Parameters with ``requires_grad=False``
(frozen layers in transfer learning) are left out altogether.

Discriminative learning rates (transfer learning: the pretrained backbone learns ~10x slower than
the new head) are given as ``lr_scales``: a mapping from parameter-name prefix to a multiplier of
the base LR. A prefix matches a parameter name when it equals it or is followed by a ``.``
("features.1" matches "features.1.weight", not "features.10.weight"); the longest matching prefix
wins; "" matches everything (a default).

Example:
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 2))
    >>> [(g["name"], g["weight_decay"], g["lr_scale"], g["param_names"]) for g in
    ...  param_groups(model, 5e-4, lr_scales={"2": 10.0})]
    [('decay', 0.0005, 1.0, ['0.weight']),
     ('no_decay', 0.0, 1.0, ['0.bias', '1.weight', '1.bias']),
     ('2/decay', 0.0005, 10.0, ['2.weight']),
     ('2/no_decay', 0.0, 10.0, ['2.bias'])]
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from torch import nn

from trainwell.errors import UserError, did_you_mean
from trainwell.nn.kinds import NORM_TYPES, is_norm
from trainwell.optim.checks import check_float

def is_norm_module(module: nn.Module) -> bool:
    """True for a normalization layer (the one rule: `trainwell.nn.kinds.is_norm`)."""
    return is_norm(module)


def check_model(model: Any, who: str) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise UserError(f"{who} expects a torch.nn.Module as `model`, got {type(model).__name__}")
    return model


def classify_parameters(model: nn.Module) -> list[tuple[str, nn.Parameter, bool]]:
    """(name, parameter, decayed) for every trainable parameter, in `named_parameters` order.

    `decayed` is the module-level rule: ndim >= 2 and not owned by a normalization module.
    Shared (tied) parameters appear once, under their first name.
    """
    check_model(model, "classify_parameters")
    norm_ids = {
        id(p) for m in model.modules() if is_norm_module(m) for p in m.parameters(recurse=False)
    }
    return [
        (name, p, p.ndim >= 2 and id(p) not in norm_ids)
        for name, p in model.named_parameters()
        if p.requires_grad
    ]


def prefix_matches(name: str, prefix: str) -> bool:
    """'features.1' matches 'features.1' and 'features.1.weight' but not 'features.10.weight'."""
    return prefix == "" or name == prefix or name.startswith(prefix + ".")


def longest_prefix(name: str, prefixes: Iterable[str]) -> str | None:
    """The longest of `prefixes` that matches `name`, or None."""
    best = None
    for prefix in prefixes:
        if prefix_matches(name, prefix) and (best is None or len(prefix) > len(best)):
            best = prefix
    return best


def check_prefixes(prefixes: Iterable[str], names: list[str], field: str) -> None:
    """Raise UserError for a prefix that matches no parameter name (most often a typo)."""
    for prefix in prefixes:
        if not isinstance(prefix, str):
            raise UserError(f"{field}: prefixes must be strings, got {prefix!r}")
        if not any(prefix_matches(n, prefix) for n in names):
            modules = sorted({n.rsplit(".", 1)[0] for n in names if "." in n} | set(names))
            raise UserError(
                f"{field}: prefix {prefix!r} matches no trainable parameter{did_you_mean(prefix, modules)}; "
                f"parameter names look like {', '.join(names[:4])}{', ...' if len(names) > 4 else ''}"
            )


def param_groups(
    model: nn.Module, weight_decay: float, lr_scales: Mapping[str, float] | None = None
) -> list[dict[str, Any]]:
    """Split the trainable parameters of `model` into optimizer param groups.

    Each group is a dict with keys "params" (list of tensors), "param_names", "weight_decay"
    (`weight_decay` for decayed parameters, 0.0 for biases/norm parameters), "lr_scale" (float,
    1.0 unless `lr_scales` says otherwise) and "name" ("decay", "no_decay", or
    "<prefix>/decay", "<prefix>/no_decay" for parameters under a prefix of `lr_scales`).
    Groups follow the order in which their first parameter appears in the model; empty groups
    are left out. Pass the list to any ``torch.optim`` optimizer.

    Raises UserError for a negative weight decay or LR scale, a prefix that matches no trainable
    parameter, or a model without trainable parameters.
    """
    check_model(model, "param_groups")
    weight_decay = check_float(weight_decay, "weight_decay", 0.0)
    scales: dict[str, float] = {}
    for prefix, scale in (lr_scales or {}).items():
        scales[prefix] = check_float(scale, f"lr_scales[{prefix!r}]", 0.0)
    params = classify_parameters(model)
    if not params:
        raise UserError(
            f"model {type(model).__name__} has no trainable parameters (all have requires_grad=False "
            "or it has none); unfreeze a layer before building an optimizer"
        )
    check_prefixes(scales, [name for name, _, _ in params], "lr_scales")

    groups: dict[tuple[str | None, bool], dict[str, Any]] = {}
    for name, p, decayed in params:
        prefix = longest_prefix(name, scales)
        key = (prefix, decayed)
        if key not in groups:
            kind = "decay" if decayed else "no_decay"
            groups[key] = {
                "params": [],
                "param_names": [],
                "weight_decay": weight_decay if decayed else 0.0,
                "lr_scale": 1.0 if prefix is None else scales[prefix],
                "name": f"{prefix}/{kind}" if prefix else kind,
            }
        groups[key]["params"].append(p)
        groups[key]["param_names"].append(name)
    return list(groups.values())


__all__ = [
    "NORM_TYPES",
    "classify_parameters",
    "is_norm_module",
    "longest_prefix",
    "param_groups",
    "prefix_matches",
]
