"""`choose_engine`: train K trials as one batched model, or one by one? (draft; calibrated below)"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from trainwell.errors import UserError
from trainwell.vectorized.batched_layers import compile_sequential
from trainwell.vectorized.checks import refuse_buffers
from trainwell.vectorized.mlp_engine import compile_mlp

MLP_MIN_K_CPU = 2


@dataclass(frozen=True)
class Choice:
    vectorize: bool
    engine: str
    reason: str


def vectorized_engine(model: nn.Module, k: int) -> str:
    ops = compile_sequential(model)
    if compile_mlp(ops, k) is not None:
        return "mlp"
    return "batched" if ops is not None else "vmap"


def choose_engine(model: nn.Module, k: int, device: torch.device | str, batch_size: int) -> Choice:
    device = torch.device(device)
    if k < 2:
        return Choice(False, "trainer", f"K = {k}: one model, nothing to batch")
    try:
        refuse_buffers(model)
    except UserError as exc:
        return Choice(False, "trainer", str(exc).split(";")[0])
    engine = vectorized_engine(model, k)
    if device.type == "cuda":
        return Choice(True, engine, "cuda")
    if device.type == "cpu" and engine == "mlp" and k >= MLP_MIN_K_CPU:
        return Choice(True, engine, "cpu mlp")
    return Choice(False, "trainer", f"cpu {engine}")
