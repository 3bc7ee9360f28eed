"""Checkpoints: written atomically (temp file + rename), read with safe loading.

A checkpoint is a plain dict of tensors and plain data, loaded with `torch.load(weights_only=True)`
so that a file can never execute code. It holds the model, optimizer, schedule position, RNG
states, callback states, preprocessing state and the resolved config. `check_resumable` checks
that a loaded dict has every entry a resume needs, of the right type, before any of it is used:
a damaged or hand-made checkpoint is a `UserError` naming the entry, never a KeyError.
"""
from __future__ import annotations

import pickle
import warnings
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
    from trainwell.io import regular_file

    if path.is_dir():
        raise UserError(f"{kind} {path} is a folder, not a file")
    regular_file(path, kind)
    if path.stat().st_size == 0:
        raise UserError(f"{kind} {path} is empty (0 bytes): it was never completely written")
    try:
        with warnings.catch_warnings():  # torch's notes on pickle protocols of a foreign file: the error says it
            warnings.simplefilter("ignore")
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "GLOBAL" in text:  # torch's restricted unpickler refused a function or class the file names
            named = next((line.strip() for line in text.splitlines() if "GLOBAL" in line), "")
            raise UserError(
                f"{kind} {path} cannot be loaded safely: it asks to rebuild Python objects ({named[:160]}) that only "
                f"a full unpickling could, which can run any code; a trainwell {kind} holds tensors and plain data only"
            ) from None
        detail = next((line.strip() for line in text.splitlines() if line.strip().startswith("Unsupported")), "")
        raise UserError(f"{kind} {path} cannot be loaded safely ({detail or 'not a pickle of plain data'}); it is "
                        f"truncated, corrupt, or not a trainwell {kind}") from None
    except (zipfile.BadZipFile, RuntimeError, EOFError, OSError, ValueError, KeyError,
            IndexError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        first = (str(exc).splitlines() or [""])[0][:200]
        raise UserError(
            f"{kind} {path} cannot be loaded safely ({type(exc).__name__}{': ' + first if first else ''}); "
            f"it is truncated, corrupt, or not a trainwell {kind}"
        ) from None


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


# what `Trainer._restore` reads from a checkpoint, and the types it needs
RESUME_ENTRIES: dict[str, tuple[type, ...]] = {
    "model": (dict,), "optimizer": (dict,), "step": (int,), "epoch": (int,), "loader": (dict,), "rng": (dict,),
}
RNG_ENTRIES = ("augment", "mix")


def check_resumable(ckpt: Any, source: str = "checkpoint") -> dict[str, Any]:
    """`ckpt` if it holds what a resume needs (model and optimizer states, step, epoch, the data
    order and the RNG states), else a UserError naming the missing or mistyped entries."""
    if not isinstance(ckpt, dict):
        raise UserError(f"{source} is not a trainwell checkpoint (found a {type(ckpt).__name__}, not a dict)")
    problems = []
    for key, types in RESUME_ENTRIES.items():
        if key not in ckpt:
            problems.append(f"no {key!r}")
        elif not isinstance(ckpt[key], types) or isinstance(ckpt[key], bool):
            problems.append(f"{key!r} is a {type(ckpt[key]).__name__}")
    for key in ("total_steps", "best_step"):
        if key in ckpt and (not isinstance(ckpt[key], int) or isinstance(ckpt[key], bool)):
            problems.append(f"{key!r} is a {type(ckpt[key]).__name__}")
    if "best_value" in ckpt and not isinstance(ckpt["best_value"], (int, float)):
        problems.append(f"'best_value' is a {type(ckpt['best_value']).__name__}")
    rng = ckpt.get("rng")
    if isinstance(rng, dict):
        wanted = [*RNG_ENTRIES, "default" if "default" in rng or "torch" not in rng else "torch"]
        problems += [f"rng[{k!r}] is not a tensor" for k in wanted if not isinstance(rng.get(k), torch.Tensor)]
    if problems:
        raise UserError(f"{source} cannot be resumed: {'; '.join(problems)} (a damaged or hand-made checkpoint; "
                        "a trainwell last.pt holds them all)")
    return ckpt


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
