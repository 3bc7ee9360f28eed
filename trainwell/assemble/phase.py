"""A training phase with some parameters frozen and per-layer learning rates (fine-tuning).

    run = phase(model, recipe, data, trainable=["head"], steps=200, lr=recipe.optim.lr, seed=7)
    run.fit()

Everything but the modules under the `trainable` prefixes gets requires_grad=False; the recipe's
optimizer is built over the trainable parameters only, at base LR `lr` times `lr_scales[prefix]`
per layer (discriminative rates), with the recipe's schedule over `steps`, its augmentation,
loss, penalty, averaging callbacks and trainer settings — the same translation `trainwell train`
uses. The phase writes no checkpoints unless given a `run_dir`.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainwell.assemble.run import Run, RunData, build_run
from trainwell.config import Recipe
from trainwell.train.callbacks import Callback


def freeze_all_but(model: nn.Module, trainable: Sequence[str]) -> None:
    """requires_grad=True exactly for the parameters under the `trainable` prefixes ("" = all)."""
    from trainwell.models.transfer import freeze_all_but as freeze

    freeze(model, list(trainable))


def phase(model: nn.Module, recipe: Recipe, data: RunData, *, trainable: Sequence[str], steps: int, lr: float,
          seed: int, device: torch.device, lr_scales: dict[str, float] | None = None,
          callbacks: Sequence[Callback] = (), progress: bool = False, label: str | None = None,
          run_dir: Path | None = None, **kwargs: Any) -> Run:
    """A `Run` of one phase (see the module docstring)."""
    freeze_all_but(model, trainable)
    return build_run(recipe, model, data, device=device, steps=steps, lr=lr, lr_scales=lr_scales, seed=seed,
                     callbacks=callbacks, progress=progress, label=label, run_dir=run_dir,
                     checkpoint=run_dir is not None, **kwargs)


__all__ = ["freeze_all_but", "phase"]
