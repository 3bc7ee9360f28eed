"""`TrainerSettings`: the plain values that shape a training run (one small dataclass).

The objects a run trains with (model, data source, optimizer, LR scheduler, loss, task, callbacks,
augmentation) are the Trainer's arguments; everything that is a number, a flag or a path is here,
so a run is described by one value that is easy to print, compare and save.

Randomness: every stream is derived from `seed` and owned by the run — batch order (seed + 1, in
the data source), augmentation (seed + 2), mixing decisions (seed + 3) and torch's default
generator as seen by modules that use it, such as nn.Dropout (seed + 4). The Trainer runs inside
`torch.random.fork_rng`, so the caller's global RNG is the same after `fit` as before it.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from trainwell.errors import UserError

PRECISIONS = ("fp32", "bf16", "fp16", "auto")


@dataclass(frozen=True)
class TrainerSettings:
    """Plain settings of a `Trainer`.

    total_steps: optimizer steps to take (with `accumulate` N, each takes N micro-batches).
    eval_every: steps between evaluations (None: once per epoch, at most ~20 per run).
    log_every: steps between metric records (one host sync each).
    seed: the root of every random stream of the run (see the module docstring).
    grad_clip: clip the global gradient norm to this value (None: no clipping; the norm is
        still logged when `log_grad_norm`).
    accumulate: micro-batches per optimizer step; each micro-batch loss is divided by it, so N
        micro-batches of b equal one batch of N·b for a model without batch statistics.
    precision: "fp32", "bf16" (autocast; works on CPU and CUDA), "fp16" (autocast with a
        gradient scaler; CUDA only) or "auto" (bf16 where the device computes it natively: a CUDA
        GPU that supports it, a CPU with AVX512-BF16 or AMX; else fp32 — see `resolve_precision`).
    compile: run the forward through `torch.compile`; a failure to compile falls back to eager.
    mix_prob: fraction of batches a mixer (Mixup/CutMix) is applied to.
    log_grad_norm: log the global gradient norm (one extra reduction per step).
    run_dir: where metrics JSON lines and checkpoints go (None: records in memory).
    checkpoint: write the resumable last.pt when there is a run_dir: at an evaluation once
        `checkpoint_seconds` have passed since the last one, and at the end of fit (a killed run
        loses at most that much training; 0: at every evaluation). Data-parallel runs write one at
        every evaluation (a clock is not the same on every process).
    """

    total_steps: int
    eval_every: int | None = None
    log_every: int = 20
    seed: int = 0
    grad_clip: float | None = None
    accumulate: int = 1
    precision: str = "fp32"
    compile: bool = False
    mix_prob: float = 1.0
    log_grad_norm: bool = False
    run_dir: Path | None = None
    checkpoint: bool = True
    checkpoint_seconds: float = 10.0
    extra_checkpoint: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.total_steps, int) or self.total_steps < 1:
            raise UserError(f"total_steps must be an integer >= 1, got {self.total_steps!r}")
        if self.eval_every is not None and self.eval_every < 1:
            raise UserError(f"eval_every must be >= 1, got {self.eval_every}")
        if self.log_every < 1:
            raise UserError(f"log_every must be >= 1, got {self.log_every}")
        if not isinstance(self.accumulate, int) or self.accumulate < 1:
            raise UserError(f"accumulate must be an integer >= 1, got {self.accumulate!r}")
        if self.precision not in PRECISIONS:
            raise UserError(f"precision must be one of {list(PRECISIONS)}, got {self.precision!r}")
        if self.grad_clip is not None and not (self.grad_clip > 0 and math.isfinite(self.grad_clip)):
            raise UserError(f"grad_clip must be a positive number, got {self.grad_clip!r}")
        if not (self.checkpoint_seconds >= 0 and math.isfinite(self.checkpoint_seconds)):
            raise UserError(f"checkpoint_seconds must be a finite number >= 0, got {self.checkpoint_seconds!r}")
        if not 0.0 <= self.mix_prob <= 1.0:
            raise UserError(f"mix_prob must be in [0, 1], got {self.mix_prob}")
        if self.run_dir is not None and not isinstance(self.run_dir, Path):
            object.__setattr__(self, "run_dir", Path(self.run_dir))

    def with_(self, **changes: Any) -> "TrainerSettings":
        return replace(self, **changes)

    def describe(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("extra_checkpoint")
        out["run_dir"] = None if self.run_dir is None else str(self.run_dir)
        return out


def default_eval_every(steps_per_epoch: int, total_steps: int) -> int:
    """Once per epoch, but at most ~20 evaluations per run."""
    return max(steps_per_epoch, math.ceil(total_steps / 20))


__all__ = ["PRECISIONS", "TrainerSettings", "default_eval_every"]
