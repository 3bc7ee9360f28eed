"""Input checks shared by the augmentations: messages name the part, what was expected and found."""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from trainwell.errors import UserError

RANK_NAMES = {3: "signals N×C×L", 4: "images N×C×H×W"}


def describe_ranks(ranks: Sequence[int]) -> str:
    return " or ".join(RANK_NAMES[r] for r in ranks)


def check_batch(name: str, x: object, ranks: Sequence[int]) -> Tensor:
    """x must be a floating-point tensor whose rank is one of `ranks` (3: signals, 4: images)."""
    if not isinstance(x, Tensor):
        raise UserError(f"{name} needs a tensor batch, got {type(x).__name__}")
    if x.dim() not in ranks:
        raise UserError(f"{name} needs {describe_ranks(ranks)}, got a tensor of shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise UserError(f"{name} needs a floating-point batch, got dtype {x.dtype}")
    return x


def same_device(a: torch.device, b: torch.device) -> bool:
    if a.type != b.type:
        return False
    return a.index is None or b.index is None or a.index == b.index


def check_generator(name: str, generator: object, x: Tensor) -> torch.Generator:
    """The generator must be a torch.Generator on the batch's device (no hidden global RNG)."""
    if not isinstance(generator, torch.Generator):
        raise UserError(
            f"{name} needs a torch.Generator (on the batch's device) as `generator`, "
            f"got {type(generator).__name__}"
        )
    if not same_device(generator.device, x.device):
        raise UserError(
            f"{name}: the generator is on {generator.device} but the batch is on {x.device}; "
            f"create it with torch.Generator(device=x.device)"
        )
    return generator


def check_probability(field: str, p: object) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= float(p) <= 1.0:
        raise UserError(f"{field} must be a probability in [0, 1], got {p!r}")
    return float(p)


def check_nonnegative(field: str, v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        raise UserError(f"{field} must be a finite number >= 0, got {v!r}")
    return float(v)


def check_positive(field: str, v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        raise UserError(f"{field} must be a finite number > 0, got {v!r}")
    return float(v)


def check_interval(field: str, v: object, low: float = -math.inf, high: float = math.inf) -> tuple[float, float]:
    """A (lo, hi) pair with low <= lo <= hi <= high."""
    if (
        not isinstance(v, (tuple, list))
        or len(v) != 2
        or any(isinstance(e, bool) or not isinstance(e, (int, float)) for e in v)
    ):
        raise UserError(f"{field} must be a pair (low, high) of numbers, got {v!r}")
    lo, hi = float(v[0]), float(v[1])
    if not (low <= lo <= hi <= high):
        raise UserError(f"{field} must satisfy {low} <= low <= high <= {high}, got {v!r}")
    return lo, hi


def check_choice(field: str, v: object, choices: Sequence[str]) -> str:
    if v not in choices:
        raise UserError(f"{field} must be one of {', '.join(map(repr, choices))}, got {v!r}")
    return str(v)


def uniform(n: int, lo: float, hi: float, generator: torch.Generator, like: Tensor) -> Tensor:
    """n draws of U(lo, hi) in `like`'s dtype and device, from `generator`."""
    u = torch.rand(n, generator=generator, device=like.device, dtype=like.dtype)
    return lo + (hi - lo) * u


def per_example(v: Tensor, x: Tensor) -> Tensor:
    """Reshape an (N,) tensor to broadcast against x: (N, 1, 1[, 1])."""
    return v.view(-1, *([1] * (x.dim() - 1)))
