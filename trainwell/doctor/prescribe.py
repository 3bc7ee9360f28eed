"""Prescriptions that depend on the setup: the recipe key to edit, or the line of code to change.

Each function returns a `Prescription` with both forms: the recipe edit (`edits`, what `--fix`
applies) when the subject is a recipe and the key exists, and the code change for a Python setup.
"""
from __future__ import annotations

import math
from typing import Any

from trainwell.doctor.finding import Prescription

SATURATING = ("tanh", "sigmoid", "hardtanh", "hardsigmoid", "softsign")


def round_sig(x: float, digits: int = 2) -> float:
    """x to `digits` significant digits (3e-4, 0.0013): the numbers people write in recipes."""
    if x == 0 or not math.isfinite(x):
        return x
    return float(f"{x:.{digits}g}")


def activation_of(subject: Any) -> str:
    act = subject.recipe.model.get("activation", "relu") if subject.kind == "recipe" else "relu"
    if isinstance(act, dict):
        act = act.get("name", "relu")
    return str(act)


def init_fix(subject: Any, kind: str | None = None) -> Prescription:
    """Xavier for saturating activations, Kaiming for the ReLU family (std ∝ 1/√fan_in)."""
    act = kind or activation_of(subject)
    name = "xavier" if act in SATURATING else "kaiming"
    fn = "xavier_normal_(m.weight)" if name == "xavier" else "kaiming_normal_(m.weight, nonlinearity=\"relu\")"
    return Prescription(f"initialize the weights with {name} (variance-preserving for {act}, biases 0)",
                        edits={"model.init": name} if subject.kind == "recipe" else {},
                        code=f"for m in model.modules():\n    if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)): "
                             f"nn.init.{fn}; nn.init.zeros_(m.bias)",
                        direction={"model.init": "set"})


def lr_fix(subject: Any, new_lr: float, up: bool) -> Prescription:
    new_lr = round_sig(new_lr)
    word = "raise" if up else "lower"
    opt = type(subject.optimizer).__name__ if subject.optimizer is not None else None
    code = (f"torch.optim.{opt}(model.parameters(), lr={new_lr:g}, ...)" if opt else f"trainwell.fit(..., lr={new_lr:g})")
    return Prescription(f"{word} the learning rate to {new_lr:g}", edits={"optim.lr": new_lr}, code=code,
                        direction={"optim.lr": "up" if up else "down"})


def widen(subject: Any, factor: int = 4, narrow_below: int | None = None) -> Prescription:
    """More units: the recipe's widths/channels × factor, and at least 4 per class (only the layers
    below `narrow_below` when given: a bottleneck), or the code change."""
    m = subject.recipe.model if subject.kind == "recipe" else {}
    for key in ("widths", "channels"):
        widths = m.get(key)
        if isinstance(widths, list) and widths:
            if narrow_below is not None:
                new = [max(w, 4 * narrow_below) if w < narrow_below else w for w in widths]
            else:
                floor = 4 * (subject.num_classes or 0)
                new = [max(int(w * factor), floor) for w in widths]
            if new != widths:
                return Prescription(f"give the network more units ({key} {widths} → {new})",
                                    edits={f"model.{key}": new}, direction={f"model.{key}": "up"})
    if narrow_below is not None:
        return Prescription(f"widen every hidden layer to at least {4 * narrow_below} units (more than the "
                            f"{narrow_below} classes)", code=f"nn.Linear(..., {4 * narrow_below})",
                            direction={"model.widths": "up"})
    return Prescription(f"give the network more capacity ({factor}× the units, or more layers)",
                        code="nn.Linear(d_in, 4 * width)  # wider hidden layers", direction={"model.widths": "up"})


def weight_decay_fix(subject: Any) -> Prescription:
    adaptive_decoupled = subject.optimizer_name == "adamw"
    value = 1e-2 if adaptive_decoupled else 5e-4
    value = min(value, round_sig(subject.weight_decay / 10)) if subject.weight_decay else value
    opt = type(subject.optimizer).__name__ if subject.optimizer is not None else None
    code = (f"torch.optim.{opt}(model.parameters(), ..., weight_decay={value:g})" if opt
            else f"trainwell.fit(..., weight_decay={value:g})")
    return Prescription(f"lower the weight decay to {value:g}", edits={"optim.weight_decay": value}, code=code,
                        direction={"optim.weight_decay": "down"})


def dropout_keys(subject: Any) -> dict[str, float]:
    """Recipe model keys that set a drop rate (dropout, head_dropout, drop_path, layer p) → value."""
    out: dict[str, float] = {}
    if subject.kind != "recipe":
        return out
    for key, value in subject.recipe.model.items():
        if "drop" in key and isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            out[f"model.{key}"] = float(value)
        elif "drop" in key and isinstance(value, dict):
            for k in ("p", "rate"):
                if isinstance(value.get(k), (int, float)) and value[k] > 0:
                    out[f"model.{key}.{k}"] = float(value[k])
        elif key == "layer" and isinstance(value, dict) and isinstance(value.get("p"), (int, float)) and value["p"] > 0:
            out["model.layer.p"] = float(value["p"])
    return out


def regularizer_fix(subject: Any, which: str, value: Any) -> Prescription:
    """Lower one regularizer (the one whose removal recovered the fit)."""
    if which == "weight_decay":
        return weight_decay_fix(subject)
    if which == "dropout":
        # 0.1 is the usual mild rate; a net held back at ≤ 0.1 already gets half its largest rate
        keys = dropout_keys(subject)
        top = max([*keys.values(), float(value) if isinstance(value, (int, float)) else 0.0])
        target = 0.1 if top > 0.1 else round_sig(top / 2)
        edits = {k: target for k, v in keys.items() if v > target}
        return Prescription(f"lower the dropout rate to {target:g}", edits=edits,
                            code=f"nn.Dropout(p={target:g})  # instead of p=" + (f"{value:g}" if isinstance(value, float) else "…"),
                            direction={k: "down" for k in edits} or {"dropout": "down"})
    if which in ("l1", "l2"):
        new = 1e-4 if which == "l2" else 1e-6
        return Prescription(f"lower the {which.upper()} penalty to {new:g}", edits={f"optim.{which}": new},
                            code=f"loss = loss + {new:g} * penalty", direction={f"optim.{which}": "down"})
    if which == "label_smoothing":
        return Prescription("lower the label smoothing to 0.1", edits={"train.label_smoothing": 0.1},
                            code="nn.CrossEntropyLoss(label_smoothing=0.1)", direction={"train.label_smoothing": "down"})
    if which == "augment":
        return Prescription("use milder augmentation (or none)", edits={"augment.train": []},
                            direction={"augment.train": "off"})
    if which == "mix":
        return Prescription("drop the batch mixing (Mixup/CutMix)", edits={"augment.mix_prob": 0.0},
                            direction={"augment.mix_prob": "off"})
    return Prescription(f"weaken the regularization ({which})")


__all__ = ["SATURATING", "activation_of", "dropout_keys", "init_fix", "lr_fix", "regularizer_fix", "round_sig",
           "weight_decay_fix", "widen"]
