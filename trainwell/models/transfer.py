"""Transfer-learning surgery on a model: find and replace the head, freeze and unfreeze layers,
per-layer (discriminative) learning-rate scales.

The recipe of the lectures (Yosinski et al. 2014, "How transferable are features in deep neural
networks?"; Razavian et al. 2014; Howard & Ruder 2018 for discriminative rates):

    1. take a network trained on a big source task;
    2. re-initialize the last layer (the head) for the new classes;
    3. freeze everything else and train the head (a linear classifier on the features);
    4. optionally unfreeze the top layers (more data: more layers) and fine-tune them with a lower
       learning rate, about 1/10 of the original, so the pretrained features are not "forgotten".

The head is the final ``nn.Linear`` named ``"head"`` in trainwell models (`mlp`, `convnet`);
for any other model it is the LAST ``nn.Linear`` in ``model.named_modules()`` order (which is
registration order; it is the output layer of Sequential-style models — check `find_head`'s
answer for models whose forward does not follow registration order).

"Layers" here are the model's top-level children that own parameters, in order (`layers`):
for trainwell models ``conv1, norm1, conv2, ..., head``. Everything is plain module surgery
(`requires_grad`, `setattr` of a child); training code lives in `trainwell.transfer.finetune`.

Example:
    >>> import torch
    >>> from trainwell.models import mlp
    >>> model = mlp((40,), 10, widths=[64, 64], generator=torch.Generator().manual_seed(0))
    >>> replace_head(model, 5, generator=torch.Generator().manual_seed(1))
    'head'
    >>> freeze_all_but(model, ["head"])
    ['head.weight', 'head.bias']
    >>> unfreeze(model); discriminative_lr_scales(model, decay=0.5)
    {'head': 1.0, 'fc2': 0.5, 'fc1': 0.25}
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import torch
from torch import nn

from trainwell.errors import UserError
from trainwell.nn.kinds import is_batchnorm

HEAD_NAME = "head"


def find_head(model: nn.Module) -> tuple[str, nn.Linear]:
    """(qualified name, module) of the classification head.

    The ``nn.Linear`` named ``"head"`` (at any depth: the last such) when there is one, else the
    last ``nn.Linear`` in ``named_modules()`` order. UserError when the model has no Linear.
    """
    linears = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise UserError(
            f"{type(model).__name__} has no nn.Linear layer, so it has no head to replace; "
            "transfer learning here needs a model whose output layer is an nn.Linear"
        )
    named = [(n, m) for n, m in linears if n.rsplit(".", 1)[-1] == HEAD_NAME]
    return (named or linears)[-1]


def _parent(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    if "." in name:
        path, child = name.rsplit(".", 1)
        return model.get_submodule(path), child
    return model, name


def new_linear(in_features: int, out_features: int, bias: bool, generator: torch.Generator | None,
               like: torch.Tensor | None = None) -> nn.Linear:
    """A freshly initialized Linear: U(-1/√in, 1/√in) for weight and bias (PyTorch's default
    range, LeCun-style), drawn from `generator`, on the device/dtype of `like`."""
    layer = nn.Linear(in_features, out_features, bias=bias)
    bound = 1.0 / math.sqrt(in_features)
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.rand(p.shape, generator=generator) * 2 * bound - bound)
    if like is not None:
        layer = layer.to(device=like.device, dtype=like.dtype)
    return layer


def replace_head(model: nn.Module, num_classes: int, generator: torch.Generator | None = None) -> str:
    """Swap the head (see `find_head`) for a new, re-initialized ``Linear(in, num_classes)``.

    The model is changed in place (its child is replaced); returns the head's qualified name.
    The new head is trainable; the rest of the model keeps its `requires_grad` flags.
    """
    if not isinstance(num_classes, int) or num_classes < 1:
        raise UserError(f"num_classes must be a positive int, got {num_classes!r}")
    name, old = find_head(model)
    head = new_linear(old.in_features, num_classes, old.bias is not None, generator, like=old.weight)
    parent, child = _parent(model, name)
    setattr(parent, child, head)
    return name


def layers(model: nn.Module) -> list[str]:
    """Names of the top-level children that own parameters, input side first.

    For a model with a single container child (e.g. ``Wrapper(body=Sequential(...))``) the names
    of that container's children are returned, qualified (``body.0``, ``body.1``, ...).
    """
    children = [(n, m) for n, m in model.named_children() if any(True for _ in m.parameters())]
    if len(children) == 1 and any(True for _ in children[0][1].children()):
        prefix, inner = children[0]
        return [f"{prefix}.{n}" for n in layers(inner)]
    return [n for n, _ in children]


def freeze_all_but(model: nn.Module, trainable: Iterable[str]) -> list[str]:
    """Set ``requires_grad`` True exactly for parameters under the given name prefixes.

    A prefix matches ``prefix`` itself and ``prefix.*`` ("fc1" does not match "fc10.weight").
    Returns the names of the trainable parameters. UserError for a prefix matching nothing.
    """
    prefixes = list(trainable)
    names = [n for n, _ in model.named_parameters()]
    for prefix in prefixes:
        if not any(_under(n, prefix) for n in names):
            raise UserError(
                f"freeze: no parameter is under {prefix!r}; the model's layers are {layers(model)}"
            )
    on = []
    for name, p in model.named_parameters():
        p.requires_grad_(any(_under(name, prefix) for prefix in prefixes))
        if p.requires_grad:
            on.append(name)
    return on


def unfreeze(model: nn.Module) -> None:
    """Make every parameter trainable again."""
    model.requires_grad_(True)


def top_layers(model: nn.Module, n: int) -> list[str]:
    """The last `n` parameterized layers (see `layers`), e.g. ``["conv4", "norm4", "head"]`` style.

    Norm layers count as layers; n = len(layers(model)) selects all of them.
    """
    names = layers(model)
    if not isinstance(n, int) or not 1 <= n <= len(names):
        raise UserError(f"top layers: n must be an int in [1, {len(names)}] for layers {names}, got {n!r}")
    return names[-n:]


def discriminative_lr_scales(model: nn.Module, decay: float, trainable_only: bool = True) -> dict[str, float]:
    """LR multiplier per layer: 1 for the top layer, ``decay**d`` for the layer d below it.

    Howard & Ruder (2018, ULMFiT) use decay = 1/2.6 per layer. Pass the result as
    ``build_optimizer(..., lr_scales=...)``. With `trainable_only`, layers without trainable
    parameters are left out (build_optimizer rejects prefixes that match no trainable parameter).
    """
    if not 0.0 < decay <= 1.0:
        raise UserError(f"discriminative LR decay must be in (0, 1], got {decay!r}")
    names = layers(model)
    if trainable_only:
        names = [n for n in names if any(p.requires_grad for p in model.get_submodule(n).parameters())]
    return {name: decay**depth for depth, name in enumerate(reversed(names))}


def batchnorm_modules(model: nn.Module, under: Sequence[str] | None = None) -> list[nn.Module]:
    """The BatchNorm modules of `model` (optionally only those under the given prefixes)."""
    out = []
    for name, m in model.named_modules():
        if is_batchnorm(m):
            if under is None or any(_under(name, p) for p in under):
                out.append(m)
    return out


def _under(name: str, prefix: str) -> bool:
    return prefix == "" or name == prefix or name.startswith(prefix + ".")


__all__ = [
    "HEAD_NAME",
    "batchnorm_modules",
    "discriminative_lr_scales",
    "find_head",
    "freeze_all_but",
    "layers",
    "new_linear",
    "replace_head",
    "top_layers",
    "unfreeze",
]
