"""A small TOML writer for recipe dicts (the standard library reads TOML but does not write it).

`dumps(raw)` writes top-level scalars first, then one ``[section]`` per table, and a
``[section.sub]`` header for a non-empty table inside a section; deeper tables and tables inside
lists are inline (``{name = "shift", max_shift = 4}``). ``None`` values are left out (TOML has no
null; every None in a recipe is a default). Floats are written with `repr`, the shortest text that
reads back as the same float, so ``tomllib.loads(dumps(d)) == d`` for every recipe dict without
None — the property the tests check (also through `recipe_from_dict`).

Example:
    >>> print(dumps({"name": "best", "optim": {"lr": 0.003, "options": {}}}), end="")
    name = "best"
    <BLANKLINE>
    [optim]
    lr = 0.003
    options = {}
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\f": "\\f"}


def format_key(key: str) -> str:
    """A bare key when it is one (letters, digits, _ and -), else a quoted key ("optim.lr")."""
    key = str(key)
    return key if _BARE.match(key) else format_string(key)


def format_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def format_value(value: Any) -> str:
    """One TOML value: string, bool, int, float (inf/nan too), array, or inline table."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return format_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value if v is not None) + "]"
    if isinstance(value, Mapping):
        items = [f"{format_key(k)} = {format_value(v)}" for k, v in value.items() if v is not None]
        return "{" + ", ".join(items) + "}" if items else "{}"
    raise TypeError(f"cannot write a {type(value).__name__} as TOML: {value!r}")


def _assignments(table: Mapping[str, Any]) -> list[str]:
    return [f"{format_key(k)} = {format_value(v)}" for k, v in table.items() if v is not None]


def dumps(raw: Mapping[str, Any], header: str = "") -> str:
    """TOML text of a recipe dict (see the module docstring); `header` becomes leading # comments."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    scalars = {k: v for k, v in raw.items() if not isinstance(v, Mapping)}
    lines += _assignments(scalars)
    for name, table in raw.items():
        if not isinstance(table, Mapping):
            continue
        flat = {k: v for k, v in table.items() if not (isinstance(v, Mapping) and v)}
        subs = {k: v for k, v in table.items() if isinstance(v, Mapping) and v}
        if lines:
            lines.append("")
        lines.append(f"[{format_key(name)}]")
        lines += _assignments(flat)
        for sub, inner in subs.items():
            lines += ["", f"[{format_key(name)}.{format_key(sub)}]"]
            lines += _assignments(inner)
    return "\n".join(lines) + "\n"


def write_toml(path: str | Path, raw: Mapping[str, Any], header: str = "") -> Path:
    """Write `dumps(raw)` atomically (temporary file, then rename)."""
    from trainwell.io import atomic_write_text

    return atomic_write_text(path, dumps(raw, header))
