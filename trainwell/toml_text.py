"""Recipe dicts as TOML text, on `tomli-w` (the standard library reads TOML but does not write it).

`dumps(raw, header)` leaves out ``None`` values at every depth (TOML has no null; every None in a
recipe is a default) and puts `header` above as ``#`` comments; tomli-w writes floats with their
shortest round-tripping text (``inf``/``nan`` too), so ``tomllib.loads(dumps(d)) == d`` for every
recipe dict without None — the property the tests check (also through `recipe_from_dict`).

Example:
    >>> print(dumps({"name": "best", "optim": {"lr": 0.003}}), end="")
    name = "best"
    <BLANKLINE>
    [optim]
    lr = 0.003
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w


def _without_none(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_without_none(v) for v in value if v is not None]
    return value


def format_value(value: Any) -> str:
    """One TOML value as text (``0.003``, ``"relu"``, ``[64, 64]``, ``inf``): what a ``--set key=VALUE``
    override parses back to `value`."""
    text = tomli_w.dumps({"v": _without_none(value)}, multiline_strings=False)
    if not text.startswith("v = "):  # a table: tomli-w wrote a [v] section
        raise TypeError(f"cannot write {value!r} as one TOML value")
    return text[len("v = "):].rstrip("\n")


def dumps(raw: Mapping[str, Any], header: str = "") -> str:
    """TOML text of a recipe dict (see the module docstring); `header` becomes leading # comments."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    body = tomli_w.dumps(_without_none(raw))
    return "\n".join(lines) + ("\n" if lines else "") + body


def write_toml(path: str | Path, raw: Mapping[str, Any], header: str = "") -> Path:
    """Write `dumps(raw, header)` atomically (temporary file, then rename)."""
    from trainwell.io import atomic_write_text

    return atomic_write_text(path, dumps(raw, header))
