"""Errors meant for people.

`UserError` is raised for bad input (a missing file, a bad recipe key, NaN in the data, a label
out of range...). The CLI turns it into a one-paragraph message on stderr and exit status 2,
without a traceback. Subclasses ValueError so library callers can catch it the usual way.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(ValueError):
    """Bad input from the user: the message names what was wrong and what was expected."""


def closest(name: str, choices: Iterable[str]) -> str | None:
    """The closest valid name to `name` (for 'did you mean ...?'), or None."""
    matches = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.5)
    return matches[0] if matches else None


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """' (did you mean "x"?)' or '' — to append to an error message."""
    match = closest(name, choices)
    return f' (did you mean "{match}"?)' if match else ""
