"""`build_model`: a model from a recipe spec, including data-dependent initialization (LSUV)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from trainwell.errors import UserError
from trainwell.models.registry import MODELS
from trainwell.nn.lsuv import lsuv_
from trainwell.registry import split_spec


def build_model(
    spec: str | dict[str, Any],
    input_shape: Sequence[int],
    num_classes: int,
    generator: torch.Generator | None = None,
    example_batch: torch.Tensor | None = None,
) -> nn.Module:
    """Build `spec` with MODELS; when its init is "lsuv", rescale layers on `example_batch`.

    LSUV (Mishkin & Matas 2015): orthogonal init, then each Linear/Conv in turn is scaled until its
    output variance on a real batch is 1 ± tol.

    A spec whose tensors cannot be allocated (``widths = [100000000000]``) is a `UserError` naming
    the spec, not an allocator error from inside torch.
    """
    try:
        model = MODELS.build(spec, input_shape=tuple(input_shape), num_classes=num_classes, generator=generator)
    except (MemoryError, RuntimeError) as exc:
        text = str(exc)
        if not isinstance(exc, MemoryError) and not any(k in text for k in ("allocate", "overflow", "out of memory")):
            raise
        first = (text.splitlines() or [""])[0][:200]
        raise UserError(f"model {spec!r} is too large to build for input shape {tuple(input_shape)} "
                        f"({type(exc).__name__}: {first}); make its layers smaller") from None
    init = spec.get("init") if isinstance(spec, dict) else None
    if init is not None:
        name, opts = split_spec(init)
        if name == "lsuv":
            if example_batch is None:
                raise UserError("init \"lsuv\" needs a batch of training data (example_batch)")
            lsuv_(model, example_batch, tol=opts.get("tol", 0.05), max_iter=opts.get("max_iter", 10), generator=generator)
    return model
