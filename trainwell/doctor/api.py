"""`trainwell.doctor(model, train, val)`: the doctor on any PyTorch model and data.

    import trainwell
    d = trainwell.doctor(model, train_loader, val_loader, loss=nn.CrossEntropyLoss(), optimizer=opt)
    d.top            # the diagnosis: the first cause found (None: nothing wrong)
    d.findings       # all findings, causes first, symptoms under them; each with a prescription
    print(d.to_json()["top"]["prescription"]["code"])

`train`/`val` are (x, y) tensors or arrays, a Dataset or a DataLoader (as in `trainwell.fit`); no
other data is ever loaded. `loss` and `optimizer` are yours (the optimizer over `model`'s
parameters; the doctor clones it for every run on a copy); without them the assembly's defaults
(`trainwell.fit`'s: AdamW, cross-entropy for class labels). `budget`: "standard", "quick", a number
of steps (every loop capped there) or a `DoctorConfig`. Other keyword arguments are recipe keys as
in `trainwell.fit` (batch_size, schedule, clip_grad_norm, ...). The model, its gradients and the
optimizer are left untouched.
"""
from __future__ import annotations

from typing import Any

from torch import nn

from trainwell.doctor.config import DoctorConfig
from trainwell.doctor.run import Diagnosis, diagnose
from trainwell.doctor.subject import python_subject


def doctor(model: nn.Module, train: Any, val: Any = None, *, loss: Any = None, optimizer: Any = None,
           budget: Any = "standard", seed: int = 0, device: Any = None, name: str | None = None,
           progress: Any = None, **recipe_keys: Any) -> Diagnosis:
    """Diagnose `model` trained on `train` (see the module docstring)."""
    cfg = DoctorConfig.from_budget(budget, seed=seed)
    subject = python_subject(model, train, val, loss=loss, optimizer=optimizer, cfg=cfg, name=name, device=device,
                             **recipe_keys)
    return diagnose(None, cfg, subject=subject, progress=progress)


__all__ = ["doctor"]
