"""Checkpoints: written atomically (temp file + rename), read with safe loading.

A checkpoint is a plain dict of tensors and plain data, loaded with `torch.load(weights_only=True)`
so that a file can never execute code. It holds the model, optimizer, schedule position, RNG
states, callback states, preprocessing state and the resolved config.
"""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from trainwell.errors import UserError
from trainwell.io import atomic_torch_save


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write a checkpoint atomically (`trainwell.io.atomic_torch_save`)."""
    atomic_torch_save(path, payload)


def safe_load(path: Path, map_location: str | torch.device = "cpu", kind: str = "checkpoint") -> Any:
    """`torch.load(weights_only=True)` (a file can never run code) with errors for people:
    a missing, truncated, corrupt or foreign file raises UserError naming it."""
    if not path.exists():
        raise UserError(f"{kind} {path} does not exist")
    if path.is_dir():
        raise UserError(f"{kind} {path} is a folder, not a file")
    if path.stat().st_size == 0:
        raise UserError(f"{kind} {path} is empty (0 bytes): it was never completely written")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, OSError, ValueError, KeyError,
            IndexError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        first = (str(exc).splitlines() or [""])[0][:200]
        raise UserError(
            f"{kind} {path} cannot be loaded safely ({type(exc).__name__}{': ' + first if first else ''}); "
            f"it is truncated, corrupt, or not a trainwell {kind}"
        ) from exc


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely; a missing, truncated or foreign file raises UserError."""
    path = Path(path)
    if path.is_dir():
        candidates = [path / "last.pt", path / "checkpoints" / "last.pt"]
        found = next((p for p in candidates if p.exists()), None)
        if found is None:
            raise UserError(f"{path} is a directory without a checkpoint (looked for last.pt)")
        path = found
    payload = safe_load(path, map_location, "checkpoint")
    if not isinstance(payload, dict) or "model" not in payload:
        raise UserError(f"checkpoint {path} is not a trainwell checkpoint (no 'model' entry)")
    return payload


def check_compatible(model: torch.nn.Module, state: dict[str, torch.Tensor], source: str = "checkpoint") -> None:
    """Raise UserError listing every missing, unexpected or mis-shaped tensor."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k}: model {tuple(own[k].shape)} vs {source} {tuple(state[k].shape)}"
        for k in own
        if k in state and own[k].shape != state[k].shape
    ]
    if missing or unexpected or shapes:
        parts = []
        if shapes:
            parts.append("shape mismatches: " + "; ".join(shapes))
        if missing:
            parts.append("missing in " + source + ": " + ", ".join(missing))
        if unexpected:
            parts.append("not in the model: " + ", ".join(unexpected))
        raise UserError(f"{source} does not fit this architecture — " + " | ".join(parts))
