"""Keep a storage password out of every message and file: ``postgresql://user:***@host/db``.

A search shared by several machines names its storage with a URL that may hold a password
(``postgresql://tw:s3cret@db.lab/optuna``). That URL is echoed by our own messages, by
SQLAlchemy's and Optuna's errors, and it would land in ``search.json``. `Redactor(url)` knows the
password of one URL and masks it in any text:

* every ``//user:PASSWORD@`` in the text becomes ``//user:***@`` (any URL, not only this one, and
  also after a mistyped scheme such as ``postgresql//``), and
* every literal occurrence of this URL's password — as written in the URL (percent-encoded) and
  decoded — becomes ``***`` (a driver may quote it outside a URL). Passwords shorter than 3
  characters are only masked inside URLs (masking every "a" would make messages unreadable and
  protects nothing).

`mask_url(url)` is the display form of a storage URL.

Example:
    >>> Redactor("postgresql://tw:s%40cret@db/optuna")("failed: postgresql://tw:s%40cret@db/optuna (s@cret)")
    'failed: postgresql://tw:***@db/optuna (***)'
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import unquote

from trainwell.errors import UserError

_USERINFO = re.compile(r"(?P<head>//[^:/@\s]*):(?P<pw>[^@\s]*)@")  # //user:password@ (also in a mistyped scheme)
MASK = "***"


def password_of(url: str) -> str | None:
    """The password part of ``scheme://user:password@host...`` as written (percent-encoded), or None."""
    match = _USERINFO.search(url or "")
    return match.group("pw") if match and match.group("pw") else None


def mask_url(url: str) -> str:
    """``postgresql://user:***@host/db`` for ``postgresql://user:secret@host/db`` (unchanged without a password)."""
    return Redactor(url)(url)


class Redactor:
    """Callable text -> text that masks the password of `url` (see the module docstring)."""

    def __init__(self, url: str | None):
        pw = password_of(url or "")
        forms = {pw, unquote(pw)} if pw else set()
        self.literals = sorted((f for f in forms if f and len(f) >= 3), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        text = _USERINFO.sub(lambda m: f"{m.group('head')}:{MASK}@", str(text))
        for literal in self.literals:
            text = text.replace(literal, MASK)
        return text

    def leaks(self, text: str) -> bool:
        """Whether `text` would change under redaction (it holds a password)."""
        return self(text) != str(text)


class RedactingFilter(logging.Filter):
    """A logging filter that masks the password in each record's final message."""

    def __init__(self, redactor: Redactor):
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.redactor.leaks(message):
            record.msg, record.args = self.redactor(message), None
        return True


@contextmanager
def masked_errors(redactor: Redactor) -> Iterator[None]:
    """Re-raise an error whose message holds the password as a `UserError` with it masked (no chain)."""
    try:
        yield
    except Exception as exc:
        if redactor.leaks(str(exc)):
            raise UserError(redactor(f"search: {type(exc).__name__}: {exc}")) from None
        raise


LOGGERS = ("optuna", "sqlalchemy", "alembic")


@contextmanager
def redacted_logs(redactor: Redactor) -> Iterator[None]:
    """Mask the password in what Optuna, SQLAlchemy and Alembic log while the block runs."""
    filt = RedactingFilter(redactor)
    # a logger's filter sees only the records logged on that very logger, not its children's,
    # and a child may keep its own handlers and stop propagating (MLflow does so with
    # "sqlalchemy.engine"): every existing logger of the three families is filtered, and so is
    # every handler they or the root hold
    existing = [name for name in logging.Logger.manager.loggerDict
                if any(name == root or name.startswith(root + ".") for root in LOGGERS)]
    loggers = [logging.getLogger(name) for name in sorted(set(LOGGERS) | set(existing))]
    handlers = [h for lg in loggers for h in lg.handlers] + list(logging.getLogger().handlers)
    for target in loggers + handlers:
        target.addFilter(filt)
    try:
        yield
    finally:
        for target in loggers + handlers:
            target.removeFilter(filt)
