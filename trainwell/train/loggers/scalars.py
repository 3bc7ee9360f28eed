"""Plain records → named scalars: what every logger writes, decided once.

Metrics records (the trainer's ``on_log`` record and ``on_eval_end`` metrics, the lines of
metrics.jsonl) carry ``split``, ``step``, ``epoch`` and numbers: ``loss``, the task's metrics
(accuracy; label_accuracy, exact_match; mse, rmse, mae, r2), and on training records ``lr``,
``grad_norm`` (when logged), ``steps_per_s`` and ``examples_per_s``. `record_values` keeps the
numbers under their own keys; a logger with one namespace prefixes the split:
``train/loss``, ``val/accuracy``, ``train/lr`` (`tagged`).

Per-layer statistics (`StatsCallback` records, stream "stats"; see trainwell.diagnostics.capture)
become, per layer ``<name>-<type>`` (e.g. ``net.1-ReLU``) and per parameter (e.g. ``net.0.weight``):

    act_mean/<layer>, act_std/<layer>      activation mean and std over the batch
    dead_frac/<layer>                      ReLU family: fraction of units never positive
    saturated_frac/<layer>                 tanh/sigmoid family: fraction of outputs saturated
    grad_std/<layer>                       std of the gradient w.r.t. the layer's output
    grad_norm/<param>                      ‖∂L/∂w‖
    update_ratio/<param>                   ‖Δw‖/‖w‖ (left out where ‖w‖ = 0: undefined)

under the split ``stats`` (training steps) or ``stats_eval`` (evaluation captures).

Example:
    >>> record_values({"split": "train", "step": 20, "epoch": 0.5, "loss": 0.7, "accuracy": 0.8, "lr": 1e-3})
    {'loss': 0.7, 'accuracy': 0.8, 'lr': 0.001}
    >>> tagged("train", {"loss": 0.7})
    {'train/loss': 0.7}
"""
from __future__ import annotations

import json
import re
from typing import Any

BOOKKEEPING = ("split", "step", "epoch")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def record_values(record: dict[str, Any]) -> dict[str, float]:
    """The numbers of a metrics record by key, in the record's order (split/step/epoch left out)."""
    return {k: float(v) for k, v in record.items() if k not in BOOKKEEPING and _number(v)}


def tagged(split: str, values: dict[str, float]) -> dict[str, float]:
    """``{"<split>/<key>": value}``: one namespace for TensorBoard tags and MLflow metric keys."""
    return {f"{split}/{k}": v for k, v in values.items()}


def safe_name(name: str) -> str:
    """A layer or parameter name as a tag part MLflow and TensorBoard both accept (letters,
    digits, ``_ . - /`` and spaces; anything else becomes ``_``)."""
    return re.sub(r"[^\w.\- ]", "_", name) or "model"


def layer_label(layer: dict[str, Any]) -> str:
    """``<name>-<type>`` of a layer entry of a stats record (the root module is called "model")."""
    name = safe_name(str(layer.get("name") or "model"))
    kind = safe_name(str(layer.get("type") or ""))
    return f"{name}-{kind}" if kind else name


def stats_split(record: dict[str, Any]) -> str:
    """``stats`` for a training capture, ``stats_eval`` for an evaluation one."""
    return "stats_eval" if record.get("phase") == "eval" else "stats"


def stats_values(record: dict[str, Any]) -> dict[str, float]:
    """A `StatsCallback` record as named scalars (see the module docstring); missing or None
    fields are left out, and so is ‖Δw‖/‖w‖ of a parameter whose ‖w‖ is 0."""
    out: dict[str, float] = {}
    for layer in record.get("layers", []):
        label = layer_label(layer)
        for key, field in (("act_mean", "mean"), ("act_std", "std"), ("dead_frac", "dead_frac"),
                           ("saturated_frac", "saturated_frac"), ("grad_std", "grad_std")):
            value = layer.get(field)
            if _number(value):
                out[f"{key}/{label}"] = float(value)
    for param in record.get("params", []):
        name = safe_name(str(param.get("name", "")))
        if _number(param.get("grad_norm")):
            out[f"grad_norm/{name}"] = float(param["grad_norm"])
        weight_norm = param.get("weight_norm")
        if _number(param.get("update_ratio")) and (not _number(weight_norm) or weight_norm > 0):
            out[f"update_ratio/{name}"] = float(param["update_ratio"])
    return out


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested recipe keys as ``{"optim.lr": "0.01", "model.channels": "[32, 64]"}``: tables are
    walked to their leaves, each leaf written as JSON text (strings as they are) — MLflow params.

    >>> flatten({"optim": {"lr": 0.01, "name": "adamw"}, "model": {"channels": [8, 8]}, "search": None})
    {'optim.lr': '0.01', 'optim.name': 'adamw', 'model.channels': '[8, 8]', 'search': 'null'}
    """
    out: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = value if isinstance(value, str) else json.dumps(value, default=str)
    return out


__all__ = ["flatten", "layer_label", "record_values", "safe_name", "stats_split", "stats_values", "tagged"]
