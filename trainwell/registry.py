"""Explicit registries: a name maps to a constructor and a one-line description.

Recipes refer to parts by these names. An unknown name raises `UserError` (a ValueError) that
lists the valid names and the closest match; unknown keyword arguments are checked against the
constructor's signature and rejected the same way.

Example:
    >>> ACTS = Registry("activation")
    >>> @ACTS.register("relu", "max(0, x)")
    ... def _relu():
    ...     return torch.nn.ReLU()
    >>> ACTS.build("relu")
    ReLU()
    >>> ACTS.build({"name": "relu"})
    ReLU()
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from trainwell.errors import UserError, did_you_mean


@dataclass(frozen=True)
class Entry:
    name: str
    constructor: Callable[..., Any]
    help: str


Spec = str | Mapping[str, Any]


def split_spec(spec: Spec) -> tuple[str, dict[str, Any]]:
    """'relu' -> ('relu', {}); {'name': 'leaky_relu', 'slope': 0.1} -> ('leaky_relu', {'slope': 0.1})."""
    if isinstance(spec, str):
        return spec, {}
    if isinstance(spec, Mapping):
        if "name" not in spec:
            raise UserError(f"a part spec needs a 'name' key, got keys {sorted(spec)}")
        kwargs = {k: v for k, v in spec.items() if k != "name"}
        return str(spec["name"]), kwargs
    raise UserError(f"a part spec must be a name or a table with a 'name' key, got {spec!r}")


class Registry:
    """A named collection of constructors of one kind (activation, init, optimizer...)."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def add(self, name: str, constructor: Callable[..., Any], help: str) -> None:
        if name in self._entries:
            raise KeyError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = Entry(name, constructor, help)

    def register(self, name: str, help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.add(name, fn, help)
            return fn

        return decorate

    def names(self) -> list[str]:
        return list(self._entries)

    def entries(self) -> list[Entry]:
        return list(self._entries.values())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except KeyError:
            valid = ", ".join(self._entries)
            raise UserError(
                f"unknown {self.kind} {name!r}{did_you_mean(name, self._entries)}; valid names: {valid}"
            ) from None

    def check_kwargs(self, name: str, kwargs: Mapping[str, Any], extra: Mapping[str, Any] = {}) -> None:
        """Raise UserError if `kwargs` has a key the constructor of `name` does not accept."""
        params = inspect.signature(self.get(name).constructor).parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return
        accepted = [p for p, v in params.items() if v.kind is not inspect.Parameter.VAR_POSITIONAL]
        for key in kwargs:
            if key not in accepted:
                raise UserError(
                    f"{self.kind} {name!r} has no option {key!r}{did_you_mean(key, accepted)}; "
                    f"its options: {', '.join(a for a in accepted if a not in extra) or '(none)'}"
                )

    def build(self, spec: Spec, *args: Any, **extra: Any) -> Any:
        """Construct from a spec (a name, or a table with 'name' and options).

        Positional `args` and keyword `extra` are passed by the caller (e.g. the number of
        features); the spec's options are checked against the constructor's signature.
        """
        name, kwargs = split_spec(spec)
        self.check_kwargs(name, kwargs, extra)
        try:
            return self.get(name).constructor(*args, **extra, **kwargs)
        except TypeError as exc:  # a missing required option, most likely
            raise UserError(f"{self.kind} {name!r}: {exc}") from exc
