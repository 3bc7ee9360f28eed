"""Optional extras: a logger whose library is not installed says exactly what to install."""
from __future__ import annotations

import importlib.util
import sys

from trainwell.errors import UserError


def require(module: str, extra: str, what: str) -> None:
    """Raise `UserError` naming ``pip install 'trainwell[<extra>]'`` when `module` cannot be imported.

    Checked without importing the module (``importlib.util.find_spec``), so a logger can refuse a
    run before training starts without paying for a heavy import (mlflow takes seconds)."""
    missing = module in sys.modules and sys.modules[module] is None  # blocked on purpose
    if not missing:
        try:
            missing = importlib.util.find_spec(module) is None
        except (ImportError, ValueError):
            missing = True
    if missing:
        raise UserError(f"{what} needs the {module!r} package, which is not installed here; "
                        f"install it with: pip install 'trainwell[{extra}]'")


def load(module: str, extra: str, what: str):
    """Import `module`, or raise the same `UserError` as `require` when it (or a part of it) is missing."""
    require(module, extra, what)
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise UserError(f"{what} cannot import {module!r} ({exc}); reinstall it with: "
                        f"pip install --force-reinstall 'trainwell[{extra}]'") from None
