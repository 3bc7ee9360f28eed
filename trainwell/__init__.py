"""trainwell: train neural networks well.

    import trainwell
    fitted = trainwell.fit(model, train_loader, val_loader, epochs=5)   # any nn.Module, Dataset or DataLoader
    trainwell.evaluate(model, test_loader)
    model.load_state_dict(trainwell.load_weights("runs/mine"))          # a run directory's best weights
    trainwell.doctor(model, train_loader, val_loader)                     # what is wrong, and the fix

Heavy modules (torch) are imported on first use, so `import trainwell` and the CLI's --help stay fast.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.2.0"

_LAZY = {"fit": "trainwell.api", "evaluate": "trainwell.api", "Fitted": "trainwell.api", "load_weights": "trainwell.api",
         "doctor": "trainwell.doctor"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'trainwell' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = ["Fitted", "__version__", "doctor", "evaluate", "fit", "load_weights"]
