"""User-facing errors: one line that says what is wrong and where."""

from __future__ import annotations

import json

from pydantic import ValidationError

# Bounds of the whole numbers a bundle may carry: SQLite keeps integers in 64 bits and turns
# larger ones into REAL, so every count, revision and duration is bounded where it is declared.
MAX_INT32 = 2**31 - 1
MAX_DURATION_MS = 10**10  # about 115 days on one item


class AnnotaryError(Exception):
    """An error caused by input the user gave; its message is shown as is (one line)."""

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class SpecError(AnnotaryError):
    """A spec that cannot be used."""


class ItemError(AnnotaryError):
    """An item that is malformed or does not fit the spec."""


class BundleError(AnnotaryError):
    """A bundle file that is malformed, tampered with or not acceptable."""


class TrustError(BundleError):
    """A bundle signed by a key the store does not accept."""


class IdentityError(AnnotaryError):
    """No identity, or an identity that cannot be read."""


class LabelError(AnnotaryError):
    """An answer that is missing or does not fit its question."""


class Cancelled(Exception):
    """A long job stopped by the user; nothing was written."""


def describe_validation(err: ValidationError, prefix: str = "") -> str:
    """Turn a pydantic error into one line naming the first bad field."""
    errors = err.errors()
    # the deepest error is the most specific; union members add type tags to the path
    # ("str", "list[Turn]") that tell the user nothing
    first = max(errors, key=lambda e: len(e.get("loc", ())))
    tags = {p for e in errors for p in e.get("loc", ())
            if isinstance(p, str) and ("[" in p or p in ("str", "int", "float", "bool", "none"))}
    loc = ".".join(_shown(p) for p in first.get("loc", ()) if p not in tags)
    where = f"{prefix}.{loc}" if prefix and loc else (prefix or loc)
    msg = _one_line(str(first.get("msg", "invalid")))
    more = len(errors) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{where}: {msg}{tail}" if where else f"{msg}{tail}"


def _one_line(text: str) -> str:
    """Control characters (a line break in a key someone sent) escaped, so the error stays one line."""
    if any(ord(c) < 32 or c in "\u2028\u2029\x85" for c in text):
        text = json.dumps(text)[1:-1]
    return text


def _shown(part) -> str:
    """One part of a field's location: keys from a file are cut and escaped."""
    text = _one_line(str(part))
    return text if len(text) <= 60 else text[:57] + "..."
